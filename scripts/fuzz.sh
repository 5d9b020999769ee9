#!/usr/bin/env bash
# Bounded fuzzing: every @FuzzTest explored for its maxDuration (15 s) with Jazzer (JAZZER_FUZZ=1), one JVM
# per target (Jazzer fuzzes one target per run). Regression on the committed corpora already ran in
# `mvn verify` (every @FuzzTest replays its src/test/resources/.../<Class>Inputs/<method>/ files).
# A finding fails this script; Jazzer writes the input that crashed into that Inputs directory (listed
# below), where it becomes a regression test: fix the decoder, keep the file.
# Run after a build of the test classes (scripts/test.sh runs it after `mvn verify`). Usage:
#   scripts/fuzz.sh                       # every target
#   scripts/fuzz.sh mesh-api PushFrameFuzzTest#frameBody   # one
set -euo pipefail
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.."

TARGETS=(
  "mesh-api PushFrameFuzzTest#frameBody"
  "mesh-api PushFrameFuzzTest#frameStream"
  "mesh-api MeshCodecFuzzTest#element"
  "kube PolicyTranslationFuzzTest#policy"
  "local-cluster ManifestFuzzTest#manifests"
  "node-agent HboneConnectFuzzTest#connectHeaders"
  "node-agent CriSpecFuzzTest#sandboxSpec"
)
if (($# == 2)); then
  TARGETS=("$1 $2")
fi

failed=()
start=$SECONDS
for t in "${TARGETS[@]}"; do
  read -r module test <<<"$t"
  log="$module/target/fuzz-${test//#/-}.log"
  mkdir -p "$module/target"
  echo "fuzz.sh: $module $test (bounded by its @FuzzTest maxDuration)"
  # The test phase with -am (compiled by the build before: nothing recompiles, only this test runs): the
  # module's Tessera dependencies then come from this checkout's reactor. `surefire:test` alone took them from
  # ~/.m2, where an older build's jars (another checkout's `mvn install`) fuzzed this code against stale classes
  # (NoClassDefFoundError for a class the old jar lacks, reported as a finding).
  # a bounded heap: libFuzzer counts the JVM's RSS against its 2 GB limit (-rss_limit_mb)
  if ! JAVA_TOOL_OPTIONS="-Xmx768m" JAZZER_FUZZ=1 mvn -B -o -q -pl "$module" -am test -Dtest="$test" -Dsurefire.failIfNoSpecifiedTests=false \
        -DtrimStackTrace=false >"$log" 2>&1; then
    failed+=("$module $test")
    echo "fuzz.sh: FINDING in $module $test; log: $log" >&2
    grep -E "^== Java Exception|^Caused by|Exception|Error" "$log" | head -20 >&2 || true
  fi
  grep -E "^#[0-9]+ *DONE|stat::number_of_executed_units|Done [0-9]+ runs" "$log" | tail -1 || true
done
# Inputs Jazzer kept (crashes) and anything new in the corpora: printed so a CI log names them.
new=$( (git status --porcelain --untracked-files=all -- '*/src/test/resources/*Inputs*' | sed 's/^...//'
        find mesh-api kube local-cluster node-agent -path '*/target' -prune -o \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' \) -print) \
      | sort -u)
if [[ -n "$new" ]]; then
  echo "fuzz.sh: inputs kept by Jazzer (commit them with the fix; they are regression tests from now on):" >&2
  sed 's/^/  /' <<<"$new" >&2
fi
echo "fuzz.sh: ${#TARGETS[@]} targets in $((SECONDS - start)) s"
if ((${#failed[@]} > 0)); then
  echo "fuzz.sh: findings in: ${failed[*]}" >&2
  exit 1
fi
