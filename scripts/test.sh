#!/usr/bin/env bash
# The test command: system packages, then the whole build with unit, in-process and network-namespace
# end-to-end tests. The netns tests need root; here a skipped netns test fails the build.
set -euo pipefail
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.."

scripts/setup.sh
rm -rf tests/target/failsafe-reports   # only this run's reports count below
mvn -B verify -Dtessera.netns.allowSkip=false

# Belt and braces: the end-to-end reports must show tests that ran, none skipped.
shopt -s nullglob
reports=(tests/target/failsafe-reports/TEST-*.xml)
if ((${#reports[@]} == 0)); then
  echo "test.sh: no end-to-end test reports in tests/target/failsafe-reports (expected: *NetnsIT ran)" >&2
  exit 1
fi
total=0 skipped=0
for r in "${reports[@]}"; do
  head=$(grep -m1 -o '<testsuite [^>]*>' "$r")
  t=$(sed -n 's/.* tests="\([0-9]*\)".*/\1/p' <<<"$head")
  s=$(sed -n 's/.* skipped="\([0-9]*\)".*/\1/p' <<<"$head")
  total=$((total + ${t:-0})) skipped=$((skipped + ${s:-0}))
done
if ((total == 0 || skipped > 0)); then
  echo "test.sh: end-to-end tests: $total run, $skipped skipped (expected: all run, none skipped)" >&2
  exit 1
fi
echo "test.sh: end-to-end tests: $total run, none skipped"
