{{/* The release's resource name. */}}
{{- define "askerp.fullname" -}}
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

{{- define "askerp.selectorLabels" -}}
app.kubernetes.io/name: {{ default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "askerp.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "askerp.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* The Secret holding askerp's secret files. */}}
{{- define "askerp.secretName" -}}
{{- default (include "askerp.fullname" .) .Values.secrets.existingSecret -}}
{{- end -}}

{{/* The secret keys present, one a line: existingSecretKeys, or the non-empty values. */}}
{{- define "askerp.secretKeys" -}}
{{- if .Values.secrets.existingSecret -}}
{{- range .Values.secrets.existingSecretKeys }}
{{ . }}
{{- end -}}
{{- else -}}
{{- range $key, $value := .Values.secrets.values }}
{{- if $value }}
{{ $key }}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* More than one pod at a time (fixed replicas above one, or an autoscaler). */}}
{{- define "askerp.several" -}}
{{- if or (gt (int .Values.replicaCount) 1) .Values.autoscaling.enabled -}}true{{- end -}}
{{- end -}}

{{/*
Refuses values askerp cannot run with, saying what to set. Included by the Deployment,
so `helm template` and `helm install` stop here.
*/}}
{{- define "askerp.validate" -}}
{{- $keys := splitList "\n" (include "askerp.secretKeys" .) -}}
{{- $known := list "dingtalk_app_secret" "card_callback_token" "audit_postgres_url" "state_url" "llm_api_key" -}}
{{- range $keys -}}
{{- if and . (not (has . $known)) -}}
{{- fail (printf "secrets: unknown key %q; askerp reads dingtalk_app_secret, card_callback_token, audit_postgres_url, state_url and llm_api_key" .) -}}
{{- end -}}
{{- end -}}
{{- if not (has .Values.state.backend (list "memory" "redis")) -}}
{{- fail (printf "state.backend must be memory or redis, not %q" .Values.state.backend) -}}
{{- end -}}
{{- if not (has .Values.audit.sink (list "file" "postgres" "stdout")) -}}
{{- fail (printf "audit.sink must be file, postgres or stdout, not %q" .Values.audit.sink) -}}
{{- end -}}
{{- if include "askerp.several" . -}}
{{- if ne .Values.state.backend "redis" -}}
{{- fail "replicaCount > 1 (or autoscaling) needs shared state: set state.backend=redis and the secret key state_url (redis://…), or run replicaCount=1" -}}
{{- end -}}
{{- if eq .Values.audit.sink "file" -}}
{{- fail "replicaCount > 1 (or autoscaling) cannot share one file audit log: set audit.sink=postgres and the secret key audit_postgres_url" -}}
{{- end -}}
{{- if .Values.persistence.enabled -}}
{{- fail "replicaCount > 1 (or autoscaling): pods cannot share one ReadWriteOnce volume; set persistence.enabled=false (with state.backend=redis and audit.sink=postgres nothing on disk needs to survive)" -}}
{{- end -}}
{{- if .Values.push.enabled -}}
{{- fail "replicaCount > 1 (or autoscaling): the push scheduler is not replica-safe; set push.enabled=false and run pushes from a second release with replicaCount=1" -}}
{{- end -}}
{{- end -}}
{{- if and (eq .Values.state.backend "redis") (not (has "state_url" $keys)) -}}
{{- fail "state.backend=redis needs the Redis URL: the secret key state_url (secrets.values.state_url, or listed in secrets.existingSecretKeys)" -}}
{{- end -}}
{{- if and (eq .Values.audit.sink "postgres") (not (has "audit_postgres_url" $keys)) -}}
{{- fail "audit.sink=postgres needs the secret key audit_postgres_url" -}}
{{- end -}}
{{- if and (eq .Values.audit.sink "file") (not .Values.persistence.enabled) -}}
{{- fail "audit.sink=file needs persistence.enabled=true: the audit log and its chain head must survive a restart (or use audit.sink=postgres)" -}}
{{- end -}}
{{- end -}}
