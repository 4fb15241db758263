{{/*
What every Airflow container shares: airflow.cfg, environment, volumes, the wait for the
migrated schema, git-sync, and the worker pod template.
*/}}

{{- define "airflow-platform.airflowHome" -}}/opt/airflow{{- end -}}
{{- define "airflow-platform.platformConfigPath" -}}/opt/airflow/platform/platform.yaml{{- end -}}
{{- define "airflow-platform.podTemplatePath" -}}/opt/airflow/pod_templates/pod_template_file.yaml{{- end -}}
{{- define "airflow-platform.uiPasswordsPath" -}}/opt/airflow/auth/passwords.json{{- end -}}
{{- define "airflow-platform.fabConfigPath" -}}/opt/airflow/fab/webserver_config.py{{- end -}}
{{- define "airflow-platform.fabAuthManager" -}}airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager{{- end -}}
{{- define "airflow-platform.gitRoot" -}}/opt/airflow/git{{- end -}}

{{- define "airflow-platform.airflowConfigMapName" -}}
{{- printf "%s-airflow-config" (include "airflow-platform.fullname" .) -}}
{{- end -}}
{{- define "airflow-platform.platformConfigMapName" -}}
{{- printf "%s-platform-config" (include "airflow-platform.fullname" .) -}}
{{- end -}}

{{/* Where DAG files and job specs are read: baked into the image, or the git-sync checkout. */}}
{{- define "airflow-platform.dagsFolder" -}}
{{- if .Values.gitSync.enabled -}}
{{- printf "%s/repo/%s" (include "airflow-platform.gitRoot" .) .Values.gitSync.dagsSubPath | trimSuffix "/" -}}
{{- else -}}
/opt/airflow/dags
{{- end -}}
{{- end -}}
{{- define "airflow-platform.jobsFolder" -}}
{{- if .Values.gitSync.enabled -}}
{{- printf "%s/repo/%s" (include "airflow-platform.gitRoot" .) .Values.gitSync.jobsSubPath | trimSuffix "/" -}}
{{- else -}}
/opt/airflow/jobs
{{- end -}}
{{- end -}}

{{/* The platform document exactly as the library reads it: `platform:` as written, with the
artifact store's transfer image defaulting to the platform image. */}}
{{- define "airflow-platform.platformYaml" -}}
{{- $platform := deepCopy .Values.platform -}}
{{- with $platform.artifacts }}
{{- if not .image }}
{{- $_ := set . "image" (printf "%s:%s" $.Values.images.airflow.repository (toString $.Values.images.airflow.tag)) }}
{{- end }}
{{- end }}
{{- /* The chart's kueue.* tells the library to put the queue label on job pods. */ -}}
{{- if .Values.kueue.enabled -}}
{{- $_ := set $platform "kueue" (dict "enabled" true "local_queue" .Values.kueue.localQueue "max_wait" .Values.kueue.maxWait) -}}
{{- end -}}
{{- toYaml $platform -}}
{{- end -}}

{{/* airflow.cfg: the chart's settings, then airflowConfig merged over them. */}}
{{- define "airflow-platform.airflowCfg" -}}
{{- $ns := .Release.Namespace -}}
{{- $cfg := dict
  "core" (dict
    "executor" "KubernetesExecutor"
    "dags_folder" (include "airflow-platform.dagsFolder" .)
    "execution_api_server_url" (printf "http://%s.%s.svc:%d/execution/" (include "airflow-platform.apiServerServiceName" .) $ns (int .Values.apiServer.service.port))
    "load_examples" "False")
  "api" (dict "host" "0.0.0.0" "port" (toString .Values.apiServer.service.port))
  "scheduler" (dict "enable_health_check" "True" "scheduler_health_check_server_port" "8974")
  "logging" (dict "colored_console_log" "False")
  "kubernetes_executor" (dict
    "namespace" (include "airflow-platform.workersNamespace" .)
    "multi_namespace_mode" "False"
    "in_cluster" "True"
    "pod_template_file" (include "airflow-platform.podTemplatePath" .)
    "worker_container_repository" .Values.images.airflow.repository
    "worker_container_tag" .Values.images.airflow.tag
    "worker_pods_creation_batch_size" (toString .Values.workers.podsCreationBatchSize)
    "delete_worker_pods" (ternary "True" "False" .Values.workers.deleteWorkerPods)
    "delete_worker_pods_on_failure" "False")
-}}
{{- /* Who may call the UI and REST API (auth.manager); workers read it too (rails.caller_roles). */ -}}
{{- if eq .Values.auth.manager "fab" }}
{{- $_ := set $cfg.core "auth_manager" (include "airflow-platform.fabAuthManager" .) }}
{{- $_ := set $cfg "fab" (dict "config_file" (include "airflow-platform.fabConfigPath" .)) }}
{{- else }}
{{- $_ := set $cfg.core "auth_manager" "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager" }}
{{- $_ := set $cfg.core "simple_auth_manager_users" (join "," .Values.auth.users) }}
{{- $_ := set $cfg.core "simple_auth_manager_passwords_file" (include "airflow-platform.uiPasswordsPath" .) }}
{{- end }}
{{- /* observability: StatsD to the statsd-exporter (templates/monitoring/_monitoring.tpl) */ -}}
{{- with include "airflow-platform.statsdConfig" . | fromYaml }}{{ $_ := set $cfg "metrics" . }}{{ end -}}
{{- with .Values.logs.remote.baseFolder }}
{{- $_ := set $cfg.logging "remote_logging" "True" }}
{{- $_ := set $cfg.logging "remote_base_log_folder" . }}
{{- $_ := set $cfg.logging "remote_log_conn_id" (include "airflow-platform.remoteLogsConnId" $) }}
{{- end -}}
{{- $merged := mergeOverwrite $cfg (deepCopy .Values.airflowConfig) -}}
{{- range $section, $settings := $merged }}
[{{ $section }}]
{{- range $key, $value := $settings }}
{{ $key }} = {{ $value }}
{{- end }}
{{ end -}}
{{- end -}}

{{/* The Airflow connection of the remote task logs, read from the environment. */}}
{{- define "airflow-platform.remoteLogsConnId" -}}airflow_platform_logs{{- end -}}

{{/* The remote task logs' connection, from its Secret (every Airflow container and worker). */}}
{{- define "airflow-platform.remoteLogsEnv" -}}
{{- if .Values.logs.remote.baseFolder }}
{{- if not .Values.logs.remote.connectionSecretName }}
{{- fail "logs.remote.baseFolder needs logs.remote.connectionSecretName: a Secret with key `connection` (the Airflow connection as JSON) in the release and workers' namespaces" }}
{{- end }}
- name: AIRFLOW_CONN_{{ include "airflow-platform.remoteLogsConnId" . | upper }}
  valueFrom:
    secretKeyRef:
      name: {{ .Values.logs.remote.connectionSecretName }}
      key: connection
{{- end }}
{{- end -}}

{{/* The Kubernetes connection of the JobOperator (in a worker) and of its trigger (in the
triggerer): in-cluster. Without it the provider's async hook looks for ~/.kube/config, so every
deferred job pod went unwatched and its worker fell back to following the pod itself. */}}
{{- define "airflow-platform.kubernetesConnEnv" -}}
- name: AIRFLOW_CONN_KUBERNETES_DEFAULT
  value: '{"conn_type": "kubernetes", "extra": {"in_cluster": true}}'
{{- end -}}

{{/* Environment of the long-running components and the migration job. */}}
{{- define "airflow-platform.databaseEnv" -}}
- name: DATABASE_PASSWORD
  valueFrom:
    secretKeyRef:
{{- if include "airflow-platform.embeddedDatabase" . }}
      name: {{ include "airflow-platform.postgresqlSecretName" . }}
      key: password
{{- else }}
{{- include "airflow-platform.externalPasswordSecret" . | nindent 6 }}
{{- end }}
{{- if include "airflow-platform.embeddedDatabase" . }}
# $(DATABASE_PASSWORD) is expanded by the kubelet, so the password never sits in a ConfigMap.
- name: AIRFLOW__DATABASE__SQL_ALCHEMY_CONN
  value: {{ printf "postgresql+psycopg2://%s:$(DATABASE_PASSWORD)@%s:5432/%s" .Values.postgresql.user (include "airflow-platform.postgresqlServiceName" .) .Values.postgresql.db | quote }}
{{- else }}
- name: AIRFLOW__DATABASE__SQL_ALCHEMY_CONN
  value: {{ printf "postgresql+psycopg2://%s:$(DATABASE_PASSWORD)@%s:%d/%s?sslmode=%s" .Values.externalDatabase.user .Values.externalDatabase.host (int .Values.externalDatabase.port) .Values.externalDatabase.db .Values.externalDatabase.sslMode | quote }}
{{- end }}
{{- end -}}

{{- define "airflow-platform.airflowEnv" -}}
- name: AIRFLOW_PLATFORM_CONFIG
  value: {{ include "airflow-platform.platformConfigPath" . }}
- name: AIRFLOW_PLATFORM_JOBS_DIR
  value: {{ include "airflow-platform.jobsFolder" . }}
# Jobs run as pods here, never as the local processes of the embedded default.
- name: AIRFLOW_PLATFORM_BACKEND
  value: kubernetes
{{ include "airflow-platform.databaseEnv" . }}
- name: AIRFLOW__CORE__FERNET_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "airflow-platform.fernetKeySecretName" . }}
      key: fernet-key
- name: AIRFLOW__API_AUTH__JWT_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ include "airflow-platform.jwtSecretName" . }}
      key: jwt-secret
- name: AIRFLOW__API__SECRET_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "airflow-platform.apiSecretKeySecretName" . }}
      key: api-secret-key
{{ include "airflow-platform.kubernetesConnEnv" . }}
{{- with include "airflow-platform.remoteLogsEnv" . }}
{{ . }}
{{- end }}
{{- end -}}

{{- define "airflow-platform.airflowVolumeMounts" -}}
- name: airflow-config
  mountPath: /opt/airflow/airflow.cfg
  subPath: airflow.cfg
  readOnly: true
- name: airflow-config
  mountPath: /opt/airflow/pod_templates/pod_template_file.yaml
  subPath: pod_template_file.yaml
  readOnly: true
- name: platform-config
  mountPath: /opt/airflow/platform
  readOnly: true
{{- if .Values.gitSync.enabled }}
- name: git
  mountPath: {{ include "airflow-platform.gitRoot" . }}
  readOnly: true
{{- end }}
{{- end -}}

{{- define "airflow-platform.airflowVolumes" -}}
- name: airflow-config
  configMap:
    name: {{ include "airflow-platform.airflowConfigMapName" . }}
- name: platform-config
  configMap:
    name: {{ include "airflow-platform.platformConfigMapName" . }}
{{- if .Values.gitSync.enabled }}
- name: git
  emptyDir: {}
{{- end }}
{{- end -}}

{{/* Rolls a component's pods when the config it mounts changes. */}}
{{- define "airflow-platform.configChecksums" -}}
checksum/airflow-config: {{ include "airflow-platform.airflowCfg" . | sha256sum }}
checksum/platform-config: {{ include "airflow-platform.platformYaml" . | sha256sum }}
{{- if eq .Values.auth.manager "fab" }}
checksum/fab-config: {{ .Values.auth.fab.webserverConfig | sha256sum }}
{{- end }}
{{- end -}}

{{/* Holds a component back until `airflow db migrate` (the hook Job) has finished. */}}
{{- define "airflow-platform.waitForMigrations" -}}
- name: wait-for-migrations
  image: {{ include "airflow-platform.image" .Values.images.airflow }}
  imagePullPolicy: {{ .Values.images.airflow.pullPolicy }}
  args: ["airflow", "db", "check-migrations", "--migration-wait-timeout={{ int .Values.waitForMigrations.timeoutSeconds }}"]
  env:
{{- include "airflow-platform.databaseEnv" . | nindent 4 }}
  volumeMounts:
{{- include "airflow-platform.airflowVolumeMounts" . | nindent 4 }}
  resources:
{{- toYaml .Values.waitForMigrations.resources | nindent 4 }}
  securityContext:
{{- include "airflow-platform.containerSecurityContext" . | nindent 4 }}
{{- end -}}

{{/*
git-sync: a native sidecar (an init container that keeps running) for long-running pods, or a
single clone for worker pods, which would otherwise never finish. Call with
(dict "root" $ "oneTime" true|false).
*/}}
{{- define "airflow-platform.gitSyncContainer" -}}
{{- $v := .root.Values.gitSync -}}
- name: git-sync{{ if .oneTime }}-init{{ end }}
  image: {{ include "airflow-platform.image" .root.Values.images.gitSync }}
  imagePullPolicy: {{ .root.Values.images.gitSync.pullPolicy }}
{{- if not .oneTime }}
  restartPolicy: Always
{{- end }}
  env:
    - name: GITSYNC_REPO
      value: {{ $v.repo | quote }}
    - name: GITSYNC_REF
      value: {{ $v.ref | quote }}
    - name: GITSYNC_ROOT
      value: {{ include "airflow-platform.gitRoot" .root }}
    - name: GITSYNC_LINK
      value: repo
    - name: GITSYNC_PERIOD
      value: {{ $v.period | quote }}
    - name: GITSYNC_ONE_TIME
      value: {{ ternary "true" "false" .oneTime | quote }}
{{- if $v.credentialsSecret }}
  envFrom:
    - secretRef:
        name: {{ $v.credentialsSecret }}
{{- end }}
  volumeMounts:
    - name: git
      mountPath: {{ include "airflow-platform.gitRoot" .root }}
  resources:
{{- toYaml $v.resources | nindent 4 }}
  securityContext:
{{- include "airflow-platform.containerSecurityContext" .root | nindent 4 }}
{{- end -}}

{{/*
The pod template the KubernetesExecutor starts each worker from. Worker pods live in the jobs
namespace, so everything they mount (the two ConfigMaps) is rendered there too; they need no
database or key Secret, because Airflow 3 workers talk to the api-server's Execution API with a
token the scheduler hands them.
*/}}
{{- define "airflow-platform.podTemplate" -}}
apiVersion: v1
kind: Pod
metadata:
  name: placeholder-name
  labels:
{{- include "airflow-platform.podLabels" (dict "root" . "component" "worker" "values" .Values.workers) | nindent 4 }}
{{- with .Values.workers.podAnnotations }}
  annotations:
{{- toYaml . | nindent 4 }}
{{- end }}
spec:
  serviceAccountName: {{ include "airflow-platform.workerServiceAccountName" . }}
  automountServiceAccountToken: {{ .Values.workers.launchJobPods }}
  restartPolicy: Never
  {{- include "airflow-platform.imagePullSecrets" . | nindent 2 }}
  securityContext:
{{- include "airflow-platform.podSecurityContext" 50000 | nindent 4 }}
{{- include "airflow-platform.podScheduling" (dict "root" . "values" .Values.workers) | nindent 2 }}
{{- $extraInit := include "airflow-platform.extraContainers" (dict "root" . "containers" .Values.workers.extraInitContainers) }}
{{- if or .Values.gitSync.enabled $extraInit }}
  initContainers:
{{- if .Values.gitSync.enabled }}
{{- include "airflow-platform.gitSyncContainer" (dict "root" . "oneTime" true) | nindent 4 }}
{{- end }}
{{- with $extraInit }}
{{- . | nindent 4 }}
{{- end }}
{{- end }}
  containers:
    - name: base
      image: {{ include "airflow-platform.image" .Values.images.airflow }}
      imagePullPolicy: {{ .Values.images.airflow.pullPolicy }}
      env:
        - name: AIRFLOW_PLATFORM_CONFIG
          value: {{ include "airflow-platform.platformConfigPath" . }}
        - name: AIRFLOW_PLATFORM_JOBS_DIR
          value: {{ include "airflow-platform.jobsFolder" . }}
        - name: AIRFLOW_PLATFORM_BACKEND
          value: kubernetes
        # The image's entrypoint would first poll the metadata database, which Airflow 3
        # workers never use (they report through the Execution API).
        - name: CONNECTION_CHECK_MAX_COUNT
          value: "0"
        # observability: job metrics and notifications (templates/monitoring/_monitoring.tpl)
{{- include "airflow-platform.monitoringEnv" . | nindent 8 }}
{{- include "airflow-platform.kubernetesConnEnv" . | nindent 8 }}
{{- with include "airflow-platform.remoteLogsEnv" . }}
{{- . | nindent 8 }}
{{- end }}
{{- with .Values.workers.extraEnv }}
{{- toYaml . | nindent 8 }}
{{- end }}
{{- with .Values.workers.extraEnvFrom }}
      envFrom:
{{- toYaml . | nindent 8 }}
{{- end }}
      resources:
{{- toYaml .Values.workers.resources | nindent 8 }}
      securityContext:
{{- include "airflow-platform.containerSecurityContext" . | nindent 8 }}
      volumeMounts:
        - name: airflow-config
          mountPath: /opt/airflow/airflow.cfg
          subPath: airflow.cfg
          readOnly: true
        - name: platform-config
          mountPath: /opt/airflow/platform
          readOnly: true
{{- if .Values.gitSync.enabled }}
        - name: git
          mountPath: {{ include "airflow-platform.gitRoot" . }}
          readOnly: true
{{- end }}
{{- with .Values.workers.extraVolumeMounts }}
{{- toYaml . | nindent 8 }}
{{- end }}
{{- with include "airflow-platform.extraContainers" (dict "root" . "containers" .Values.workers.extraContainers) }}
{{- . | nindent 4 }}
{{- end }}
  volumes:
    - name: airflow-config
      configMap:
        name: {{ include "airflow-platform.airflowConfigMapName" . }}
    - name: platform-config
      configMap:
        name: {{ include "airflow-platform.platformConfigMapName" . }}
{{- if .Values.gitSync.enabled }}
    - name: git
      emptyDir: {}
{{- end }}
{{- with .Values.workers.extraVolumes }}
{{- toYaml . | nindent 4 }}
{{- end }}
{{- end -}}
