#!/usr/bin/env bash
# Builds the three images from this checkout's Maven outputs, offline (no registry, no base image pulled):
#   tessera/jre:17              jlink runtime + glibc (jre/make-rootfs.sh), FROM scratch
#   tessera/node-agent:TAG      node-agent/target + libbpf/libelf/libz from the host
#   tessera/controller:TAG      controller/target
# Run `mvn -B -DskipTests package -pl node-agent,controller -am` first. Uses the engine DOCKER_HOST points
# to (scripts/docker.sh start for the private one). TAG: $TESSERA_IMAGE_TAG, default 0.1.0.
#
#   daemonset/images/build.sh [jre|node-agent|controller ...]   (default: all three)
#
# The jre image is rebuilt only when its recipe or the JDK changed (label dev.tessera.recipe); the
# others rely on Docker's layer cache (dependency jars and natives in their own layers, the app jar last).
set -euo pipefail
here=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
repo=$(readlink -f "$here/../..")
TAG=${TESSERA_IMAGE_TAG:-0.1.0}
JRE_IMAGE=tessera/jre:17
work=${TESSERA_IMAGES_WORK:-$repo/target/images}
if [[ -z ${DOCKER:-} ]]; then
  if [[ -x /usr/bin/docker ]]; then DOCKER=/usr/bin/docker; else DOCKER=$(command -v docker || true); fi
fi
[[ -n $DOCKER ]] || { echo "build.sh: no docker client (expected: scripts/setup.sh was run)" >&2; exit 1; }
export DOCKER_BUILDKIT=0   # the classic builder ships with every engine; nothing here needs BuildKit

targets=("$@")
((${#targets[@]})) || targets=(jre node-agent controller)

stage_app() { # module jar -> $1/app
  local module=$1 jar=$2 ctx=$3
  local target=$repo/$module/target
  [[ -f $target/$jar && -d $target/lib ]] || {
    echo "build.sh: $target/$jar or $target/lib is missing (expected: mvn -B -DskipTests package -pl $module -am)" >&2
    exit 1
  }
  rm -rf "$ctx" && mkdir -p "$ctx/app/lib"
  cp "$target/$jar" "$ctx/app/"
  cp "$target"/lib/*.jar "$ctx/app/lib/"
}

build_jre() {
  local recipe
  recipe=$( (cat "$here/jre/make-rootfs.sh" "$here/jre/Dockerfile"; java -version 2>&1) | sha256sum | cut -c1-16)
  if [[ $("$DOCKER" image inspect --format '{{index .Config.Labels "dev.tessera.recipe"}}' "$JRE_IMAGE" 2>/dev/null) == "$recipe" ]]; then
    echo "build.sh: $JRE_IMAGE is up to date (recipe $recipe)"
    return
  fi
  local ctx=$work/jre
  rm -rf "$ctx" && mkdir -p "$ctx"
  cp "$here/jre/Dockerfile" "$ctx/"
  "$here/jre/make-rootfs.sh" "$ctx/rootfs.tar"
  "$DOCKER" build -q --label "dev.tessera.recipe=$recipe" -t "$JRE_IMAGE" "$ctx" >/dev/null
  rm -f "$ctx/rootfs.tar"
}

build_agent() {
  local ctx=$work/node-agent
  stage_app node-agent tessera-node-agent.jar "$ctx"
  cp "$here/node-agent/Dockerfile" "$ctx/"
  cp "$repo/node-agent/src/main/jvm/agent-jvm.options" "$ctx/jvm.options"
  mkdir -p "$ctx/native"
  local lib path
  for lib in libbpf.so.1 libelf.so.1 libz.so.1; do
    path=$(ldconfig -p | awk -v l="$lib" '$1 == l && /x86-64/ && !found {print $NF; found = 1}')
    [[ -n $path ]] || { echo "build.sh: $lib not found (expected: apt-get install libbpf1 libelf1 zlib1g)" >&2; exit 1; }
    cp "$(readlink -f "$path")" "$ctx/native/"
    [[ $(basename "$(readlink -f "$path")") == "$lib" ]] || ln -sf "$(basename "$(readlink -f "$path")")" "$ctx/native/$lib"
  done
  stage_reply_routing_tools "$ctx/tools"
  "$DOCKER" build -q -t "tessera/node-agent:$TAG" "$ctx" >/dev/null
}

# iptables (the nft variant, with its extensions) and ip from the build host, with the libraries they link
# that the base lacks: the agent runs them once at start to install the reply routing of its transparent
# deliveries (ARCHITECTURE.md "The server sees the client pod's address").
stage_reply_routing_tools() {
  local root=$1 xt=/usr/lib/x86_64-linux-gnu/xtables f lib
  rm -rf "$root"
  mkdir -p "$root/usr/sbin" "$root$xt" "$root/usr/lib/x86_64-linux-gnu"
  for f in /usr/sbin/xtables-nft-multi "$(readlink -f /usr/sbin/ip)"; do
    [[ -x $f ]] || { echo "build.sh: $f not found (expected: apt-get install iptables iproute2)" >&2; exit 1; }
  done
  cp /usr/sbin/xtables-nft-multi "$root/usr/sbin/"
  ln -sf xtables-nft-multi "$root/usr/sbin/iptables"
  cp "$(readlink -f /usr/sbin/ip)" "$root/usr/sbin/ip"
  cp "$xt"/*.so "$root$xt/"
  { ldd /usr/sbin/xtables-nft-multi "$(readlink -f /usr/sbin/ip)" "$xt"/*.so 2>/dev/null || true; } |
    awk '/=> \// {print $3}' | sort -u | while read -r lib; do
      case $(basename "$lib") in libc.so.*|libm.so.*|libdl.so.*|libpthread.so.*|librt.so.*|libz.so.*|libbpf.so.*|libelf.so.*) continue ;; esac
      cp "$(readlink -f "$lib")" "$root/usr/lib/x86_64-linux-gnu/"
      [[ $(basename "$(readlink -f "$lib")") == "$(basename "$lib")" ]] ||
        ln -sf "$(basename "$(readlink -f "$lib")")" "$root/usr/lib/x86_64-linux-gnu/$(basename "$lib")"
    done
}

build_controller() {
  local ctx=$work/controller
  stage_app controller tessera-controller.jar "$ctx"
  cp "$here/controller/Dockerfile" "$ctx/"
  "$DOCKER" build -q -t "tessera/controller:$TAG" "$ctx" >/dev/null
}

for t in "${targets[@]}"; do
  start=$(date +%s%N)
  case $t in
    jre) build_jre; image=$JRE_IMAGE ;;
    node-agent) build_agent; image=tessera/node-agent:$TAG ;;
    controller) build_controller; image=tessera/controller:$TAG ;;
    *) echo "build.sh: unknown image '$t' (expected: jre, node-agent or controller)" >&2; exit 2 ;;
  esac
  size=$("$DOCKER" image inspect --format '{{.Size}}' "$image")
  ms=$((($(date +%s%N) - start) / 1000000))
  printf 'build.sh: %-28s %4d MB  (%d.%d s)\n' "$image" $((size / 1000000)) $((ms / 1000)) $((ms % 1000 / 100))
done
