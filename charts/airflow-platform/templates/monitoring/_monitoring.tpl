{{/*
Observability helpers (docs/observability.md): the statsd-exporter's address, the worker pods'
notification environment, Airflow's [metrics] section.
*/}}

{{- define "airflow-platform.statsdName" -}}
{{- printf "%s-statsd-exporter" (include "airflow-platform.fullname" .) -}}
{{- end -}}

{{/* The [metrics] section of airflow.cfg when the statsd-exporter is deployed; else empty. */}}
{{- define "airflow-platform.statsdConfig" -}}
{{- if .Values.monitoring.statsd.enabled -}}
{{- toYaml (dict
  "statsd_on" "True"
  "statsd_host" (printf "%s.%s.svc" (include "airflow-platform.statsdName" .) .Release.Namespace)
  "statsd_port" "9125"
  "statsd_prefix" "airflow"
  "statsd_influxdb_enabled" "True") -}}
{{- end -}}
{{- end -}}

{{/* Environment of worker pods: which connections notify (job metrics follow [metrics]). */}}
{{- define "airflow-platform.monitoringEnv" -}}
- name: AIRFLOW_PLATFORM_PAGERDUTY_CONN_ID
  value: {{ .Values.alerting.notifications.pagerdutyConnId | quote }}
- name: AIRFLOW_PLATFORM_SLACK_CONN_ID
  value: {{ .Values.alerting.notifications.slackConnId | quote }}
{{- with .Values.alerting.notifications.airflowBaseUrl }}
- name: AIRFLOW_PLATFORM_AIRFLOW_URL
  value: {{ . | quote }}
{{- end }}
{{- end -}}

{{/* The plain rules file with runbook URLs pointing at alerting.runbookBaseUrl, the quota
alert's `for` from kueue.alertAfter and its team taken out of this release's ClusterQueue names. */}}
{{- define "airflow-platform.alertRules" -}}
{{- .Files.Get "files/alerts.rules.yaml" | replace "https://airflow-platform.example.internal/docs/runbooks" .Values.alerting.runbookBaseUrl | replace "for: 1h # kueue.alertAfter" (printf "for: %s" .Values.kueue.alertAfter) | replace `"cluster_queue", "airflow-platform-(.+)"` (printf `"cluster_queue", "%s-(.+)"` (include "airflow-platform.fullname" .)) -}}
{{- end -}}
