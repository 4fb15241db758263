{{/*
Names, labels, images and security contexts shared by every template.
*/}}

{{- define "airflow-platform.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The prefix of every resource name; kept short because component names are appended. */}}
{{- define "airflow-platform.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "airflow-platform.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The namespace of the KubernetesExecutor's worker pods: the platform policy's
jobs_namespace itself (the teams' jobs namespaces are named after it). */}}
{{- define "airflow-platform.workersNamespace" -}}
{{- .Values.platform.policy.jobs_namespace -}}
{{- end -}}

{{/*
Each team's jobs namespace, as YAML `team: namespace`: the team's own `namespace`, else
`<policy.jobs_namespace>-<team>`, the rule of the library's PlatformConfig.namespace_of. Read it
with (include "airflow-platform.teamNamespaces" . | fromYaml).
*/}}
{{- define "airflow-platform.teamNamespaces" -}}
{{- $out := dict -}}
{{- range $team, $spec := .Values.platform.teams -}}
{{- $_ := set $out $team ((($spec | default dict).namespace) | default (printf "%s-%s" $.Values.platform.policy.jobs_namespace $team)) -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/* Labels every object carries. Call with (dict "root" $ "component" "scheduler"). */}}
{{- define "airflow-platform.labels" -}}
helm.sh/chart: {{ include "airflow-platform.chart" .root }}
{{ include "airflow-platform.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: airflow-platform
{{- end -}}

{{/* The stable subset used in selectors; never add a label here that can change on upgrade. */}}
{{- define "airflow-platform.selectorLabels" -}}
app.kubernetes.io/name: {{ include "airflow-platform.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- if .component }}
app.kubernetes.io/component: {{ .component }}
{{- end }}
{{- end -}}

{{/* image reference: (include "airflow-platform.image" .Values.images.airflow) */}}
{{- define "airflow-platform.image" -}}
{{- printf "%s:%s" .repository .tag -}}
{{- end -}}

{{- define "airflow-platform.imagePullSecrets" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
{{- range . }}
  - name: {{ . }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
Pod-level security context meeting Pod Security `restricted`. The airflow image's user is
50000 in group 0; postgres is 999. Call with the uid.
*/}}
{{- define "airflow-platform.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ . }}
runAsGroup: {{ if eq (int .) 50000 }}0{{ else }}{{ . }}{{ end }}
fsGroup: {{ if eq (int .) 50000 }}0{{ else }}{{ . }}{{ end }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Container-level security context meeting Pod Security `restricted`. */}}
{{- define "airflow-platform.containerSecurityContext" -}}
allowPrivilegeEscalation: false
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Name of each component's service account. */}}
{{- define "airflow-platform.serviceAccountName" -}}
{{- printf "%s-%s" (include "airflow-platform.fullname" .root) .component -}}
{{- end -}}

{{- define "airflow-platform.workerServiceAccountName" -}}
{{- printf "%s-worker" (include "airflow-platform.fullname" .) -}}
{{- end -}}

{{- define "airflow-platform.apiServerServiceName" -}}
{{- printf "%s-api-server" (include "airflow-platform.fullname" .) -}}
{{- end -}}

{{- define "airflow-platform.postgresqlServiceName" -}}
{{- printf "%s-postgresql" (include "airflow-platform.fullname" .) -}}
{{- end -}}

{{/* Names of the Secrets holding each generated or provided value. */}}
{{- define "airflow-platform.fernetKeySecretName" -}}
{{- default (printf "%s-fernet-key" (include "airflow-platform.fullname" .)) .Values.secrets.fernetKeySecretName -}}
{{- end -}}
{{- define "airflow-platform.jwtSecretName" -}}
{{- default (printf "%s-jwt-secret" (include "airflow-platform.fullname" .)) .Values.secrets.jwtSecretName -}}
{{- end -}}
{{- define "airflow-platform.apiSecretKeySecretName" -}}
{{- default (printf "%s-api-secret-key" (include "airflow-platform.fullname" .)) .Values.secrets.apiSecretKeySecretName -}}
{{- end -}}
{{- define "airflow-platform.uiPasswordsSecretName" -}}
{{- default (printf "%s-ui-passwords" (include "airflow-platform.fullname" .)) .Values.secrets.uiPasswordsSecretName -}}
{{- end -}}
{{- define "airflow-platform.fabAdminSecretName" -}}
{{- default (printf "%s-fab-admin" (include "airflow-platform.fullname" .)) .Values.secrets.fabAdminSecretName -}}
{{- end -}}
{{- define "airflow-platform.postgresqlSecretName" -}}
{{- default (printf "%s-postgresql" (include "airflow-platform.fullname" .)) .Values.postgresql.passwordSecret -}}
{{- end -}}

{{/*
A value generated once: the existing Secret's data when the release already has it (helm
upgrade), a fresh random value otherwise. `helm template` cannot look up, so it always
generates. Call with (dict "root" $ "name" "x" "key" "k" "value" "<fresh value>").
*/}}
{{- define "airflow-platform.keptSecretValue" -}}
{{- $existing := lookup "v1" "Secret" .root.Release.Namespace .name -}}
{{- if and $existing (hasKey ($existing.data | default dict) .key) -}}
{{- index $existing.data .key -}}
{{- else -}}
{{- .value | b64enc -}}
{{- end -}}
{{- end -}}

{{/*
"true" when the embedded PostgreSQL serves as the metadata database, "" otherwise. Setting
externalDatabase.host is enough to choose the external one: postgresql.enabled need not be
turned off as well.
*/}}
{{- define "airflow-platform.embeddedDatabase" -}}
{{- if and .Values.postgresql.enabled (not .Values.externalDatabase.host) -}}true{{- end -}}
{{- end -}}

{{/* The external database's password Secret as (dict "name" "key"); a bare name means key `password`. */}}
{{- define "airflow-platform.externalPasswordSecret" -}}
{{- $ref := .Values.externalDatabase.passwordSecret | default "" -}}
{{- if kindIs "string" $ref -}}
{{- toYaml (dict "name" $ref "key" "password") -}}
{{- else -}}
{{- toYaml (dict "name" ($ref.name | default "") "key" ($ref.key | default "password")) -}}
{{- end -}}
{{- end -}}

{{/* Fails rendering with a clear message when values that span keys do not fit together. */}}
{{- define "airflow-platform.validateValues" -}}
{{- if not (include "airflow-platform.embeddedDatabase" .) -}}
{{- if not .Values.externalDatabase.host -}}
{{- fail "externalDatabase.host is required when postgresql.enabled is false" -}}
{{- end -}}
{{- if not (include "airflow-platform.externalPasswordSecret" . | fromYaml).name -}}
{{- fail "externalDatabase.passwordSecret is required with an external database: the name of a Secret holding the password" -}}
{{- end -}}
{{- end -}}
{{- range $team, $ns := include "airflow-platform.teamNamespaces" . | fromYaml -}}
{{- if eq $ns $.Release.Namespace -}}
{{- fail (printf "team %s's jobs namespace is the release namespace %s: the admission policy would hold Airflow's own pods to the job rules; give the team another namespace (platform.teams.%s.namespace) or change platform.policy.jobs_namespace" $team $ns $team) -}}
{{- end -}}
{{- end -}}
{{- if and .Values.gitSync.enabled (not .Values.gitSync.repo) -}}
{{- fail "gitSync.repo is required when gitSync.enabled is true" -}}
{{- end -}}
{{- end -}}

{{/* The admission policy and its binding are cluster-wide: named after the release and its
namespace, so that releases of one name in two namespaces do not collide. */}}
{{- define "airflow-platform.admissionPolicyName" -}}
{{- printf "%s-%s" (include "airflow-platform.fullname" .) .Release.Namespace -}}
{{- end -}}

{{/*
Where a pod of the release may run: `scheduling` applies to every pod the chart makes
(components, PostgreSQL, statsd-exporter, the migration Job, worker pods); a component's own
nodeSelector is merged over it and its tolerations added to it, while its own affinity and
priorityClassName replace the global ones (two affinities cannot be merged meaningfully), and
its topologySpreadConstraints are its own. Job pods are placed by their
flavor (platform.flavors.<name>.node_labels and tolerations), not by this.
Called with (dict "root" $ "values" <the component's values, or empty>).
*/}}
{{- define "airflow-platform.podScheduling" -}}
{{- $global := .root.Values.scheduling -}}
{{- $own := .values | default dict -}}
{{- $selector := merge (deepCopy ($own.nodeSelector | default dict)) ($global.nodeSelector | default dict) -}}
{{- with $selector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with concat ($global.tolerations | default list) ($own.tolerations | default list) }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $own.affinity | default $global.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $own.priorityClassName | default $global.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with $own.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/*
A pod's labels: the values' podLabels, with the chart's own labels over them so that no value
can move a pod out of its Deployment's selector or its NetworkPolicies.
Called with (dict "root" $ "component" "scheduler" "values" <the component's values>).
*/}}
{{- define "airflow-platform.podLabels" -}}
{{- $chart := include "airflow-platform.labels" (dict "root" .root "component" .component) | fromYaml -}}
{{- toYaml (merge $chart (deepCopy ((.values | default dict).podLabels | default dict))) -}}
{{- end -}}

{{/*
Containers from values (extraContainers, extraInitContainers), each given the chart's
`restricted` security context. The schema already refuses a container's own securityContext;
this replaces one anyway (a render with schema validation skipped), so nothing from values can
loosen Pod Security. Called with (dict "root" $ "containers" <list>); renders a YAML list or
nothing.
*/}}
{{- define "airflow-platform.extraContainers" -}}
{{- $sc := include "airflow-platform.containerSecurityContext" .root | fromYaml -}}
{{- $out := list -}}
{{- range .containers -}}
{{- $out = append $out (set (deepCopy .) "securityContext" (deepCopy $sc)) -}}
{{- end -}}
{{- with $out }}{{ toYaml . }}{{ end -}}
{{- end -}}

{{/* Annotations of a ServiceAccount from values (cloud workload identity), or nothing. */}}
{{- define "airflow-platform.serviceAccountAnnotations" -}}
{{- with ((. | default dict).serviceAccount | default dict).annotations }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
