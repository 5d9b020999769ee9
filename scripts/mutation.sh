#!/usr/bin/env bash
# Mutation testing (PIT) of the pure decision code: the policy authorizer and translator, the inbound and
# outbound routes, readiness, node-authorized issuance, and the push protocol's codec and deltas. Run by
# hand or on a schedule, NOT by `mvn verify` / .ci/run: it takes minutes and judges the tests, not the
# product. One module at a time, one thread (the machines are small). Reports:
#   <module>/target/pit-reports/index.html (and mutations.xml); the summary below is printed at the end.
# Usage: scripts/mutation.sh [mesh-api|kube|node-agent|controller ...]   (default: all four)
set -euo pipefail
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.."

declare -A CLASSES=(
  [mesh-api]="dev.tessera.api.push.MeshDelta*,dev.tessera.api.push.Frames*,dev.tessera.api.push.MeshCodec*,dev.tessera.api.push.WireReader*,dev.tessera.api.push.WireWriter*"
  [kube]="dev.tessera.kube.policy.PolicyTranslator*"
  [node-agent]="dev.tessera.agent.policy.Authorizer*,dev.tessera.agent.inbound.InboundRoute*,dev.tessera.agent.outbound.OutboundRoute*,dev.tessera.agent.admin.Readiness*"
  [controller]="dev.tessera.controller.identity.SvidIssuer*"
)
declare -A TESTS=(
  [mesh-api]="dev.tessera.api.push.*Test"
  [kube]="dev.tessera.kube.policy.*Test"
  [node-agent]="dev.tessera.agent.policy.AuthorizerTest,dev.tessera.agent.inbound.InboundRouteTest,dev.tessera.agent.outbound.OutboundRouteTest,dev.tessera.agent.admin.ReadinessTest"
  [controller]="dev.tessera.controller.identity.SvidIssuerTest"
)
modules=("$@")
((${#modules[@]})) || modules=(mesh-api kube node-agent controller)

for m in "${modules[@]}"; do
  [[ -n "${CLASSES[$m]:-}" ]] || { echo "mutation.sh: unknown module $m (expected: mesh-api, kube, node-agent, controller)" >&2; exit 2; }
done
join() { local IFS=,; echo "$*"; }
classes=() tests=()
for m in "${modules[@]}"; do classes+=("${CLASSES[$m]}"); tests+=("${TESTS[$m]}"); done
# One reactor (the modules and what they need, built from this checkout, nothing installed); each module
# mutates only its own classes, so the filters can be the union. Modules without matching classes pass.
mvn -B -q -pl "$(join "${modules[@]}")" -am test-compile org.pitest:pitest-maven:mutationCoverage \
    -DtargetClasses="$(join "${classes[@]}")" -DtargetTests="$(join "${tests[@]}")" -DfailWhenNoMutations=false

for m in "${modules[@]}"; do
  xml="$m/target/pit-reports/mutations.xml"
  count() { grep -Eo "status=['\"]($1)['\"]" "$xml" | wc -l; }
  total=$(count '[A-Z_]+') killed=$(count 'KILLED|TIMED_OUT|MEMORY_ERROR|RUN_ERROR')
  survived=$(count 'SURVIVED') nocov=$(count 'NO_COVERAGE')
  echo "mutation.sh: $m: $killed/$total killed ($((total ? 100 * killed / total : 0))%), $survived survived, $nocov not covered"
done
