{{/* The release's housekeeping CronJobs (templates/maintenance/): shared settings. */}}

{{- define "airflow-platform.podCleanupName" -}}
{{- printf "%s-pod-cleanup" (include "airflow-platform.fullname" .) -}}
{{- end -}}

{{/* The namespaces whose finished pods the pod-cleanup CronJob may delete: the workers' and
every team's jobs namespace, once each. */}}
{{- define "airflow-platform.podCleanupNamespaces" -}}
{{- $namespaces := include "airflow-platform.teamNamespaces" . | fromYaml -}}
{{- toYaml (uniq (prepend (values $namespaces | sortAlpha) (include "airflow-platform.workersNamespace" .))) -}}
{{- end -}}

{{/* A CronJob's schedule settings: one run at a time, a short history. */}}
{{- define "airflow-platform.cronJobPolicy" -}}
concurrencyPolicy: Forbid
successfulJobsHistoryLimit: 1
failedJobsHistoryLimit: 3
{{- end -}}
