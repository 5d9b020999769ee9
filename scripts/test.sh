#!/usr/bin/env bash
# The test command: system packages, then the whole build with unit, in-process and network-namespace
# end-to-end tests, and the container image tests under a private Docker engine. The netns and image tests
# need root; here a skipped one fails the build.
set -euo pipefail
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.."

scripts/setup.sh
# The image tests (image-tests/, *DockerIT) use a private Docker engine, stopped by its pid when this script
# ends, also on failure (unless it was already running); an engine the machine runs anyway is left alone.
if ! scripts/docker.sh status; then
  trap 'scripts/docker.sh stop' EXIT
fi
scripts/docker.sh start
eval "$(scripts/docker.sh env)"
rm -rf tests/target/failsafe-reports image-tests/target/failsafe-reports   # only this run's reports count below
mvn -B verify -Dtessera.netns.allowSkip=false

# Belt and braces: the end-to-end and image reports must show tests that ran, none skipped.
check_reports() { # dir what
  shopt -s nullglob
  local reports=("$1"/TEST-*.xml) total=0 skipped=0 r head t s
  if ((${#reports[@]} == 0)); then
    echo "test.sh: no test reports in $1 (expected: $2 ran)" >&2
    exit 1
  fi
  for r in "${reports[@]}"; do
    head=$(grep -m1 -o '<testsuite [^>]*>' "$r")
    t=$(sed -n 's/.* tests="\([0-9]*\)".*/\1/p' <<<"$head")
    s=$(sed -n 's/.* skipped="\([0-9]*\)".*/\1/p' <<<"$head")
    total=$((total + ${t:-0})) skipped=$((skipped + ${s:-0}))
  done
  if ((total == 0 || skipped > 0)); then
    echo "test.sh: $2: $total run, $skipped skipped (expected: all run, none skipped)" >&2
    exit 1
  fi
  echo "test.sh: $2: $total run, none skipped"
}
check_reports tests/target/failsafe-reports "end-to-end tests (*NetnsIT)"
check_reports image-tests/target/failsafe-reports "image tests (*DockerIT)"

# Bounded fuzzing of every decoder of another process's bytes (~2 min; a finding fails and names its kept input).
scripts/fuzz.sh
