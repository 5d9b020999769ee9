{{/*
The recommended labels (app.kubernetes.io/*) of one object:
  include "tessera.labels" (dict "root" $ "name" "tessera-node-agent" "component" "node-agent")
Selectors use app.kubernetes.io/name alone: it is all they need (one mesh per cluster) and it is what the
manifests used before the chart, so an existing install can be upgraded in place (selectors are immutable).
*/}}
{{- define "tessera.labels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/part-of: tessera
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Values.managedBy | default .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{- define "tessera.agentLabels" -}}
{{ include "tessera.labels" (dict "root" . "name" "tessera-node-agent" "component" "node-agent") }}
{{- end -}}

{{- define "tessera.controllerLabels" -}}
{{ include "tessera.labels" (dict "root" . "name" "tessera-controller" "component" "controller") }}
{{- end -}}

{{/* An image reference: repository:tag (tag defaults to the appVersion), or repository@digest. */}}
{{- define "tessera.image" -}}
{{- if .image.digest -}}
{{ .image.repository }}@{{ .image.digest }}
{{- else -}}
{{ .image.repository }}:{{ .image.tag | default .root.Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{/* The controller's address for the agents (the Service in the release namespace). */}}
{{- define "tessera.controllerAddress" -}}
tessera-controller.{{ .Release.Namespace }}.svc:15012
{{- end -}}

{{/*
Logging of both programs: the same two flags on the agent and the controller (their SLF4J backend is
tessera-logging). logLevel is a level, optionally with levels per logger ("info,tessera.access=off");
logFormat json writes one JSON object per line (ztunnel's keys), the agent's access log included.
*/}}
{{- define "tessera.logArgs" -}}
- --log-level={{ .Values.logLevel }}
- --log-format={{ .Values.logFormat }}
{{- end -}}

{{/* PromQL matchers of the agents' and the controller's series (the PodMonitors' jobs by default). */}}
{{- define "tessera.agentSelector" -}}
{{- .Values.monitoring.prometheusRule.agentSelector | default (printf "job=\"%s/tessera-node-agents\"" .Release.Namespace) -}}
{{- end -}}
{{- define "tessera.controllerSelector" -}}
{{- .Values.monitoring.prometheusRule.controllerSelector | default (printf "job=\"%s/tessera-controller\"" .Release.Namespace) -}}
{{- end -}}
