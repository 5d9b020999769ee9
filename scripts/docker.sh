#!/usr/bin/env bash
# A private Docker engine for the image tests (image-tests/, *DockerIT), separate from any engine the machine
# already runs: its own socket, data root, exec root and pid file, no docker0 bridge, and no changes to
# the host's firewall or forwarding. Root only.
#
#   scripts/docker.sh start   start it (idempotent) and wait until it answers; prints DOCKER_HOST=...
#   scripts/docker.sh stop    stop it by the pid in its pid file (SIGTERM, then SIGKILL after 20 s)
#   scripts/docker.sh status  exit 0 when it answers
#   scripts/docker.sh env     print the environment the tests need (eval "$(scripts/docker.sh env)")
#
# Addresses: the engine owns no bridge (--bridge none); every network the tests create comes from the
# default address pool 198.19.128.0/17 (/24 each), inside the benchmarking range 198.18.0.0/15.
# --iptables=false / --ip-forward=false / --ip-masq=false: the tests reach containers at their own
# addresses from the host over the bridge, so no NAT or port publishing is needed, containers get no
# route out of the machine, and nothing here edits the host's iptables (dockerd with iptables would set
# the FORWARD policy to DROP for every other user of the machine).
set -euo pipefail

NAME=tessera-docker
SOCK=/run/$NAME.sock
PIDFILE=/run/$NAME.pid
DATA_ROOT=/var/lib/$NAME
EXEC_ROOT=/run/$NAME
LOG=/var/log/$NAME.log
export DOCKER_HOST=unix://$SOCK

# The Debian client of the engine setup.sh installs; another docker client works too (API negotiation).
if [[ -x /usr/bin/docker ]]; then DOCKER=/usr/bin/docker; else DOCKER=$(command -v docker || echo docker); fi

answers() {
  [[ -S $SOCK ]] && timeout 5 "$DOCKER" version --format '{{.Server.Version}}' >/dev/null 2>&1
}

running_pid() {
  [[ -f $PIDFILE ]] || return 1
  local pid
  pid=$(<"$PIDFILE")
  [[ -n $pid && -d /proc/$pid ]] && [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == */dockerd* ]] || return 1
  echo "$pid"
}

start() {
  [[ $(id -u) -eq 0 ]] || { echo "docker.sh: needs root (dockerd)" >&2; exit 1; }
  command -v dockerd >/dev/null || { echo "docker.sh: dockerd is not installed (expected: scripts/setup.sh was run)" >&2; exit 1; }
  if running_pid >/dev/null && answers; then
    echo "DOCKER_HOST=$DOCKER_HOST"
    return
  fi
  mkdir -p "$DATA_ROOT" "$EXEC_ROOT"
  # setsid: the engine must not receive the terminal's or Maven's signals; it is stopped by its pid only.
  setsid dockerd \
    --host "$DOCKER_HOST" \
    --pidfile "$PIDFILE" \
    --data-root "$DATA_ROOT" \
    --exec-root "$EXEC_ROOT" \
    --containerd-namespace "$NAME" \
    --containerd-plugins-namespace "$NAME-plugins" \
    --bridge none \
    --default-address-pool base=198.19.128.0/17,size=24 \
    --iptables=false --ip-forward=false --ip-masq=false --userland-proxy=false \
    --log-level warn \
    </dev/null >>"$LOG" 2>&1 &
  local launched=$!
  for _ in $(seq 1 150); do
    if answers; then
      echo "DOCKER_HOST=$DOCKER_HOST"
      return
    fi
    if ! kill -0 "$launched" 2>/dev/null; then
      echo "docker.sh: dockerd exited during start-up; last lines of $LOG:" >&2
      tail -n 20 "$LOG" >&2
      exit 1
    fi
    sleep 0.2
  done
  echo "docker.sh: dockerd (pid $launched) did not answer on $SOCK within 30 s; see $LOG" >&2
  kill "$launched" 2>/dev/null || true
  exit 1
}

stop() {
  local pid
  if ! pid=$(running_pid); then
    rm -f "$PIDFILE"
    return
  fi
  kill -TERM "$pid"
  for _ in $(seq 1 100); do
    [[ -d /proc/$pid ]] || return 0
    sleep 0.2
  done
  echo "docker.sh: dockerd (pid $pid) still running after 20 s; SIGKILL" >&2
  kill -KILL "$pid" 2>/dev/null || true
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) answers ;;
  env)
    echo "export DOCKER_HOST=$DOCKER_HOST"
    echo "export TESTCONTAINERS_RYUK_DISABLED=true"
    echo "export TESTCONTAINERS_HOST_OVERRIDE=localhost"
    ;;
  *) echo "usage: scripts/docker.sh start|stop|status|env" >&2; exit 2 ;;
esac
