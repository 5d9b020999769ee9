#!/usr/bin/env bash
# Assembles the root file system of the tessera/jre:17 base image from the build host, without any
# registry: a Java runtime made with jlink from the local JDK 17 (only the modules the agent and the
# controller use), the shared libraries that runtime links against (found with ldd), the dynamic loader,
# an ld.so.cache, /etc/passwd with root and nonroot (65532), and a world-writable /tmp (Netty and jffi
# unpack their native libraries there).
#
#   daemonset/images/jre/make-rootfs.sh OUT.tar
#
# Needs a glibc x86_64 build host with merged /usr (Debian 12 here; the same works in any CI runner or
# in `docker run debian:bookworm` with openjdk-17-jdk-headless installed).
set -euo pipefail
out=${1:?usage: make-rootfs.sh OUT.tar}

JAVA_HOME=${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")}
[[ -d $JAVA_HOME/jmods ]] || { echo "make-rootfs.sh: $JAVA_HOME/jmods is missing (expected: a full JDK 17, e.g. openjdk-17-jdk-headless)" >&2; exit 1; }
version=$("$JAVA_HOME/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
[[ $version == 17 ]] || { echo "make-rootfs.sh: JAVA_HOME=$JAVA_HOME is Java $version (expected: 17)" >&2; exit 1; }

# jdeps --print-module-deps on the agent and the controller with their dependency jars gives
#   java.base java.desktop java.naming java.sql jdk.httpserver jdk.jfr jdk.unsupported
# (java.desktop: java.beans, used by Jackson and SnakeYAML). Added by hand, because they are only reached
# through service loaders or reflection: java.net.http (fabric8's JDK HTTP client), jdk.crypto.ec (the JDK's
# EC keys and ECDSA for SPIFFE certificates), java.management (JVM metrics), jdk.naming.dns.
MODULES=java.base,java.desktop,java.naming,java.sql,jdk.httpserver,jdk.jfr,jdk.unsupported,java.net.http,jdk.crypto.ec,java.management,jdk.naming.dns

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/rootfs
mkdir -p "$root"/{opt,etc,usr/lib/x86_64-linux-gnu,usr/lib64,usr/bin}
ln -s usr/lib "$root/lib"
ln -s usr/lib64 "$root/lib64"
ln -s usr/bin "$root/bin"
install -d -m 1777 "$root/tmp"

"$JAVA_HOME/bin/jlink" --add-modules "$MODULES" --output "$root/opt/java" \
  --strip-debug --no-header-files --no-man-pages --compress=2
# Debian's JDK links lib/security/cacerts to /etc/ssl/certs/java/cacerts: copy the file itself.
if [[ -L $root/opt/java/lib/security/cacerts ]]; then
  target=$(readlink -f "$JAVA_HOME/lib/security/cacerts")
  rm "$root/opt/java/lib/security/cacerts"
  if [[ -f $target ]]; then cp "$target" "$root/opt/java/lib/security/cacerts"; fi
fi

# java.desktop is there for java.beans only: its AWT, font, sound and image natives are never loaded by a
# headless server, and they alone would pull X11, freetype, harfbuzz, glib and ALSA into the image.
rm -f "$root"/opt/java/lib/{libawt.so,libawt_headless.so,libawt_xawt.so,libjawt.so,libfontmanager.so,libjavajpeg.so,libjsound.so,liblcms.so,libmlib_image.so,libsplashscreen.so}

# Every shared library an ELF file of the runtime needs, copied to the same path as on the host (the
# real file plus the soname link). Libraries of the runtime itself resolve through $ORIGIN.
copy_lib() {
  local path=$1 real
  real=$(readlink -f "$path")
  [[ -e $root$real ]] || { mkdir -p "$root$(dirname "$real")"; cp "$real" "$root$real"; }
  local dir
  dir=$(readlink -f "$(dirname "$path")")
  if [[ $dir/$(basename "$path") != "$real" ]]; then
    # Same directory: a relative link (libz.so.1 -> libz.so.1.2.13); else absolute, resolved in the image.
    if [[ $dir == "$(dirname "$real")" ]]; then
      ln -sf "$(basename "$real")" "$root$dir/$(basename "$path")"
    else
      ln -sf "$real" "$root$dir/$(basename "$path")"
    fi
  fi
}
while IFS= read -r -d '' f; do
  if [[ $(od -An -tx1 -N4 "$f" | tr -d ' \n') == 7f454c46 ]]; then
    ldd "$f" 2>/dev/null | awk '/=> \// {print $3} /^\t\/[^ ]+ \(/ {print $1}'
  fi
done < <(find "$root/opt/java" -type f \( -name '*.so' -o -path '*/bin/*' \) -print0) | sort -u |
  while read -r lib; do
    case $lib in "$root"/*) continue ;; esac
    copy_lib "$lib"
  done
# Loaded by name at run time (glibc's NSS and the libraries Netty's natives and jffi link to).
for lib in libdl.so.2 libpthread.so.0 librt.so.1 libm.so.6 libnss_dns.so.2 libresolv.so.2 libgcc_s.so.1; do
  for d in /usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu; do
    if [[ -e $d/$lib ]]; then copy_lib "$d/$lib"; break; fi
  done
done

cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:
nonroot:x:65532:
EOF
printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
install -d -m 0700 "$root/root"
install -d -m 0755 -o 65532 -g 65532 "$root/home/nonroot"
printf '/usr/lib/x86_64-linux-gnu\n' >"$root/etc/ld.so.conf"
ldconfig -r "$root"

# Reproducible enough for the build cache: fixed owners and times, sorted names.
tar --sort=name --mtime='2025-01-01 00:00Z' --numeric-owner -C "$root" -cf "$out" .
echo "make-rootfs.sh: $out ($(du -sh "$out" | cut -f1)), Java $("$root/opt/java/bin/java" -version 2>&1 | sed -n 1p)"
