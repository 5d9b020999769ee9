#!/usr/bin/env bash
# Installs every system package the build and the tests need (idempotent: does nothing when all are
# present) and mounts bpffs at /sys/fs/bpf if it is not mounted. Debian/Ubuntu, run as root (or sudo).
#   scripts/setup.sh          build, demo and tests
#   scripts/setup.sh --bench  also what bench/run.sh needs (nginx as the HTTP server, openssl, python3)
set -euo pipefail
BENCH=0
[[ "${1:-}" == "--bench" ]] && BENCH=1

PACKAGES=(
  openjdk-17-jdk-headless maven            # build
  clang llvm libbpf-dev bpftool make libc6-dev linux-libc-dev   # eBPF programs
  iproute2 util-linux procps               # ip netns / veth, nsenter / setsid, sysctl
  tcpdump socat curl prometheus iptables   # end-to-end tests (prometheus: a real server scrapes the agents;
                                           # iptables: node FORWARD rules in the egress tests)
  iperf3 wrk haproxy                       # benchmark (bench/)
  ca-certificates
)
# Install tests (cli/, ChartParityTest): `kubectl kustomize` renders daemonset/. Debian's kubectl is the
# kubernetes-client package (1.20, kustomize v2: daemonset/ lists files, not directories, for it); a
# machine with another kubectl (e.g. 1.32 from Kubernetes' own repository) keeps it. promtool (the Prometheus
# rule checks) comes with the prometheus package above.
if ! command -v kubectl >/dev/null; then
  PACKAGES+=(kubernetes-client)
fi
# Image tests (image-tests/, *DockerIT): a Docker engine that scripts/docker.sh starts privately. Debian's
# docker.io conflicts with docker-ce, so a machine that already has a dockerd keeps its own.
if ! command -v dockerd >/dev/null; then
  PACKAGES+=(docker.io)
fi
if ((BENCH)); then
  PACKAGES+=(nginx-light openssl python3)
fi

SUDO=()
if [[ "$(id -u)" -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "setup.sh: needs root (or sudo)" >&2; exit 1; }
  SUDO=(sudo)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup.sh: installing ${missing[*]}"
  "${SUDO[@]}" apt-get update -q
  # Packages with services (nginx, docker.io) must not start them: no daemon is left listening on the host.
  policy=/usr/sbin/policy-rc.d
  own_policy=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee $policy >/dev/null
    "${SUDO[@]}" chmod +x $policy
    own_policy=1
  fi
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  if ((own_policy)); then "${SUDO[@]}" rm -f $policy; fi
else
  echo "setup.sh: all ${#PACKAGES[@]} packages present"
fi

if ! grep -qs '^[^ ]* /sys/fs/bpf bpf ' /proc/mounts; then
  echo "setup.sh: mounting bpffs at /sys/fs/bpf"
  "${SUDO[@]}" mount -t bpf bpf /sys/fs/bpf
fi
