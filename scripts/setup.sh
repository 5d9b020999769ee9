#!/usr/bin/env bash
# Installs every system package the build and the tests need (idempotent: does nothing when all are
# present) and mounts bpffs at /sys/fs/bpf if it is not mounted. Debian/Ubuntu, run as root (or sudo).
set -euo pipefail

PACKAGES=(
  openjdk-17-jdk-headless maven            # build
  clang llvm libbpf-dev bpftool make libc6-dev linux-libc-dev   # eBPF programs
  iproute2 util-linux procps               # ip netns / veth, nsenter / setsid, sysctl
  tcpdump socat curl                       # end-to-end tests
  iperf3 wrk haproxy                       # benchmark (bench/)
  ca-certificates
)

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
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "setup.sh: all ${#PACKAGES[@]} packages present"
fi

if ! grep -qs '^[^ ]* /sys/fs/bpf bpf ' /proc/mounts; then
  echo "setup.sh: mounting bpffs at /sys/fs/bpf"
  "${SUDO[@]}" mount -t bpf bpf /sys/fs/bpf
fi
