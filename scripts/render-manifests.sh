#!/usr/bin/env bash
# Renders the Helm chart (daemonset/chart/tessera) into the kustomize folder's YAML files (daemonset/base/,
# crds/, observability/), which `kubectl apply -k daemonset/` and `tessera install` use. Run after editing
# the chart; ChartSourcesTest fails while the files and the chart differ. Uses real Helm (helm-java), no
# helm binary. Builds the CLI with the modules it depends on from this tree (-am).
set -euo pipefail
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.."
mvn -B -q -pl cli -am test -Dtest=ChartSourcesTest -Dsurefire.failIfNoSpecifiedTests=false -Dtessera.manifests.write=true
git status --short daemonset/
