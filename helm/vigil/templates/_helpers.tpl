{{- define "vigil.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}{{ .Release.Name | trunc 63 | trimSuffix "-" }}{{- else -}}{{ printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}{{- end -}}
{{- end -}}
{{- define "vigil.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}
{{- define "vigil.selector" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/*
The pod template, shared by the Deployment (every replica runs every check) and the sharded StatefulSet (each
replica runs its share: VIGIL_SHARD__COUNT from the values, VIGIL_SHARD__INDEX from the pod's ordinal).
*/}}
{{- define "vigil.podTemplate" -}}
metadata:
  labels: {{- include "vigil.selector" . | nindent 4 }}
  annotations:
    checksum/config: {{ toYaml .Values.config | sha256sum }}
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
  automountServiceAccountToken: false  # Vigil never talks to the Kubernetes API
  securityContext: {{- toYaml .Values.podSecurityContext | nindent 4 }}
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets: {{- toYaml . | nindent 4 }}
  {{- end }}
  containers:
    - name: vigil
      image: "{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      args: ["serve", "--config", "/etc/vigil/vigil.yaml", "--port", "{{ .Values.port }}", "--log-format", "json"]
      ports:
        - {name: http, containerPort: {{ .Values.port }}}
      {{- if or .Values.sharding.enabled .Values.secretEnv }}
      env:
        {{- if .Values.sharding.enabled }}
        - name: VIGIL_SHARD__COUNT
          value: {{ .Values.sharding.shards | quote }}
        # The StatefulSet controller labels each pod with its ordinal (Kubernetes >= 1.28): no shell, no writes.
        - name: VIGIL_SHARD__INDEX
          valueFrom:
            fieldRef: {fieldPath: "metadata.labels['apps.kubernetes.io/pod-index']"}
        {{- end }}
        {{- range $name, $ref := .Values.secretEnv }}
        - name: {{ $name }}
          valueFrom:
            secretKeyRef: {name: {{ $ref.name }}, key: {{ $ref.key }}}
        {{- end }}
      {{- end }}
      livenessProbe:
        httpGet: {path: /livez, port: http}
        periodSeconds: {{ .Values.probes.periodSeconds }}
        timeoutSeconds: {{ .Values.probes.timeoutSeconds }}
      startupProbe:
        httpGet: {path: /startupz, port: http}
        periodSeconds: 2
        failureThreshold: 60
      readinessProbe:
        httpGet: {path: /startupz, port: http}
        periodSeconds: {{ .Values.probes.periodSeconds }}
        timeoutSeconds: {{ .Values.probes.timeoutSeconds }}
      resources: {{- toYaml .Values.resources | nindent 8 }}
      securityContext: {{- toYaml .Values.securityContext | nindent 8 }}
      volumeMounts:
        - {name: config, mountPath: /etc/vigil, readOnly: true}
        {{- range .Values.secretFiles }}
        - {name: secret-{{ . }}, mountPath: /run/secrets/{{ . }}, readOnly: true}
        {{- end }}
  volumes:
    - name: config
      configMap: {name: {{ include "vigil.fullname" . }}}
    {{- range .Values.secretFiles }}
    - name: secret-{{ . }}
      secret: {secretName: {{ . }}}
    {{- end }}
  {{- with .Values.nodeSelector }}
  nodeSelector: {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity: {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations: {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}
