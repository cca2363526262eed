{{/* Names: the chart's name (nameOverride), and the release's objects' name (fullnameOverride), both DNS labels. */}}
{{- define "vigil.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "vigil.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "vigil.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The recommended labels (kubernetes.io/docs/concepts/overview/working-with-objects/common-labels). */}}
{{- define "vigil.labels" -}}
helm.sh/chart: {{ include "vigil.chart" . }}
{{ include "vigil.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | quote }}
app.kubernetes.io/component: health-checker
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* What selects the pods: never changes for a release (a Deployment's selector is immutable). */}}
{{- define "vigil.selectorLabels" -}}
app.kubernetes.io/name: {{ include "vigil.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "vigil.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "vigil.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* repository:tag, or repository@digest when a digest is given (it wins over the tag). */}}
{{- define "vigil.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{/*
A Vigil duration (`500ms`, `15s`, `2m`, `1h`, `3d` or a number of seconds, as app/units.py reads it) in whole
milliseconds. Called with (list value "where") so a value the chart cannot read fails naming the key.
*/}}
{{- define "vigil.milliseconds" -}}
{{- $value := index . 0 -}}
{{- $where := index . 1 -}}
{{- $text := toString $value | trim -}}
{{- $match := regexFindAll "^([0-9]+(\\.[0-9]+)?)\\s*(ms|s|m|h|d)?$" $text 1 -}}
{{- if not $match -}}
{{- fail (printf "%s: %q is not a duration (expected e.g. 500ms, 15s, 2m or a number of seconds)" $where $text) -}}
{{- end -}}
{{- $number := regexReplaceAll "\\s*(ms|s|m|h|d)$" $text "" | float64 -}}
{{- $unit := regexReplaceAll "^[0-9.]+\\s*" $text "" -}}
{{- $scale := get (dict "ms" 1 "s" 1000 "m" 60000 "h" 3600000 "d" 86400000 "" 1000) $unit -}}
{{- mulf $number $scale | ceil | int64 -}}
{{- end -}}

{{/*
The longest time the configured checks may take to be through /startupz, in whole seconds: every check's first run
starts within `initial_delay` plus a spread of at most 10 s after Vigil starts, and ends within its `timeout`
(check value, else `defaults`, else Vigil's own default: 5 s timeout, no delay); plus the process's own start
(`probes.startup.processStartSeconds`: interpreter, imports, clients).
*/}}
{{- define "vigil.startupBound" -}}
{{- $defaults := .Values.config.defaults | default dict -}}
{{- $timeout := include "vigil.milliseconds" (list ($defaults.timeout | default "5s") "config.defaults.timeout") | int64 -}}
{{- $delay := include "vigil.milliseconds" (list ($defaults.initial_delay | default "0") "config.defaults.initial_delay") | int64 -}}
{{- $longest := add $timeout $delay -}}
{{- range $component, $spec := .Values.config.components -}}
{{- range $check, $options := ($spec | default dict).checks -}}
{{- $options = $options | default dict -}}
{{- $where := printf "config.components.%s.checks.%s" $component $check -}}
{{- $t := $timeout -}}
{{- if hasKey $options "timeout" -}}
{{- $t = include "vigil.milliseconds" (list $options.timeout (printf "%s.timeout" $where)) | int64 -}}
{{- end -}}
{{- $d := $delay -}}
{{- if hasKey $options "initial_delay" -}}
{{- $d = include "vigil.milliseconds" (list $options.initial_delay (printf "%s.initial_delay" $where)) | int64 -}}
{{- end -}}
{{- $longest = max $longest (add $t $d) -}}
{{- end -}}
{{- end -}}
{{- $seconds := divf $longest 1000 | ceil | int64 -}}
{{- add $seconds 10 .Values.probes.startup.processStartSeconds -}}
{{- end -}}

{{/* The startupProbe's failureThreshold: the one set in the values, checked against the bound, else derived. */}}
{{- define "vigil.startupFailureThreshold" -}}
{{- $probe := .Values.probes.startup -}}
{{- $bound := include "vigil.startupBound" . | int64 -}}
{{- $period := $probe.periodSeconds | int64 -}}
{{- $needed := divf $bound $period | ceil | int64 -}}
{{- if $probe.failureThreshold -}}
{{- $budget := mul $period $probe.failureThreshold -}}
{{- if lt $budget $bound -}}
{{- fail (printf "probes.startup: periodSeconds x failureThreshold = %ds, but the configured checks may need up to %ds to be through /startupz (longest initial_delay + timeout of a check, + 10s first-run spread, + %ds process start); the kubelet would restart Vigil before it is started. Set probes.startup.failureThreshold to at least %d, or leave it empty to derive it." $budget $bound ($probe.processStartSeconds | int64) $needed) -}}
{{- end -}}
{{- $probe.failureThreshold -}}
{{- else -}}
{{- $needed -}}
{{- end -}}
{{- end -}}

{{/* True ("true") when a redis component runs a memory check: the Redis alert only makes sense then. */}}
{{/* Where this release publishes Vigil's page: the first Ingress host, else the NOTES' port-forward address. */}}
{{- define "vigil.pageURL" -}}
{{- if and .Values.ingress.enabled .Values.ingress.hosts -}}
{{- printf "http%s://%s" (ternary "s" "" (not (empty .Values.ingress.tls))) (first .Values.ingress.hosts) -}}
{{- else -}}
http://localhost:8080
{{- end -}}
{{- end -}}

{{- define "vigil.redisMemoryConfigured" -}}
{{- range $component, $spec := .Values.config.components -}}
{{- if eq (toString ($spec | default dict).type) "redis" -}}
{{- range $check, $options := $spec.checks -}}
{{- if eq (toString (($options | default dict).kind | default $check)) "memory" -}}true{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Refuse to render what cannot work, with a sentence instead of a template error. */}}
{{- define "vigil.validate" -}}
{{- if not .Values.config.components -}}
{{- fail "config.components is empty: Vigil has no checks to run, and a readiness gate with nothing to check would pass for nothing. Configure at least one component, e.g. --set config.components.cache.type=redis --set config.components.cache.url=redis://redis:6379/0 (as in the chart's ci/default-values.yaml)" -}}
{{- end -}}
{{- range $name, $spec := .Values.config.components -}}
{{- if not (and (kindIs "map" $spec) $spec.type) -}}
{{- fail (printf "config.components.%s: a component needs a `type` (redis, clickhouse, http or tcp)" $name) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* topologySpreadConstraints as given, each without a labelSelector given this release's pods' selector. */}}
{{- define "vigil.topologySpreadConstraints" -}}
{{- $selector := dict "matchLabels" (include "vigil.selectorLabels" . | fromYaml) -}}
{{- $constraints := list -}}
{{- range .Values.topologySpreadConstraints -}}
{{- $constraints = append $constraints (merge (deepCopy .) (dict "labelSelector" $selector)) -}}
{{- end -}}
{{- toYaml $constraints -}}
{{- end -}}

{{/*
The Vigil configuration file as rendered into the ConfigMap: `config`, and with configReload inPlace, file watching
switched on (`reload.watch: true`; a `config.reload.interval` set in the values is kept).
*/}}
{{- define "vigil.config" -}}
{{- $config := deepCopy .Values.config -}}
{{- if eq .Values.configReload "inPlace" -}}
{{- $config = merge (dict "reload" (dict "watch" true)) $config -}}
{{- end -}}
{{- toYaml $config -}}
{{- end -}}
