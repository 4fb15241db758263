{{/*
The Deployment, ServiceAccount and PodDisruptionBudget shared by the four Airflow components.
Each component's folder calls these with what makes it different (`values` is the component's
values, whose extension points — extraEnv, extraVolumes, extraContainers, podLabels, ... — are
added after the chart's own):
  (dict "root" $ "component" "scheduler" "values" .Values.scheduler
        "args" (list ...) "ports" (list (dict "name" "x" "containerPort" 1)) "probe" (dict ...)
        "automountToken" true "gitSync" false "extraVolumes" "" "extraVolumeMounts" ""
        "env" (list (dict "name" "X" "value" "y")))
*/}}

{{- define "airflow-platform.componentDeployment" -}}
{{- $root := .root -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "airflow-platform.fullname" $root }}-{{ .component }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "airflow-platform.labels" (dict "root" $root "component" .component) | nindent 4 }}
spec:
  replicas: {{ .values.replicas }}
  selector:
    matchLabels:
      {{- include "airflow-platform.selectorLabels" (dict "root" $root "component" .component) | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "airflow-platform.podLabels" (dict "root" $root "component" .component "values" .values) | nindent 8 }}
      annotations:
        {{- include "airflow-platform.configChecksums" $root | nindent 8 }}
        {{- with .values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "airflow-platform.serviceAccountName" (dict "root" $root "component" .component) }}
      automountServiceAccountToken: {{ .automountToken }}
      {{- include "airflow-platform.imagePullSecrets" $root | nindent 6 }}
      securityContext:
        {{- include "airflow-platform.podSecurityContext" 50000 | nindent 8 }}
      {{- include "airflow-platform.podScheduling" (dict "root" $root "values" .values) | nindent 6 }}
      initContainers:
        {{- include "airflow-platform.waitForMigrations" $root | nindent 8 }}
        {{- if and .gitSync $root.Values.gitSync.enabled }}
        {{- include "airflow-platform.gitSyncContainer" (dict "root" $root "oneTime" false) | nindent 8 }}
        {{- end }}
        {{- with include "airflow-platform.extraContainers" (dict "root" $root "containers" .values.extraInitContainers) }}
        {{- . | nindent 8 }}
        {{- end }}
      containers:
        - name: {{ .component }}
          image: {{ include "airflow-platform.image" $root.Values.images.airflow }}
          imagePullPolicy: {{ $root.Values.images.airflow.pullPolicy }}
          args: {{ toJson .args }}
          env:
            {{- include "airflow-platform.airflowEnv" $root | nindent 12 }}
            {{- with .env }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
            {{- with .values.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          {{- with .values.extraEnvFrom }}
          envFrom:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          {{- with .ports }}
          ports:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          readinessProbe:
            {{- toYaml .probe.readiness | nindent 12 }}
          livenessProbe:
            {{- toYaml .probe.liveness | nindent 12 }}
          resources:
            {{- toYaml .values.resources | nindent 12 }}
          securityContext:
            {{- include "airflow-platform.containerSecurityContext" $root | nindent 12 }}
          volumeMounts:
            {{- include "airflow-platform.airflowVolumeMounts" $root | nindent 12 }}
            {{- with .extraVolumeMounts }}
            {{- . | nindent 12 }}
            {{- end }}
            {{- with .values.extraVolumeMounts }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
        {{- with include "airflow-platform.extraContainers" (dict "root" $root "containers" .values.extraContainers) }}
        {{- . | nindent 8 }}
        {{- end }}
      volumes:
        {{- include "airflow-platform.airflowVolumes" $root | nindent 8 }}
        {{- with .extraVolumes }}
        {{- . | nindent 8 }}
        {{- end }}
        {{- with .values.extraVolumes }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
{{- end -}}

{{- define "airflow-platform.componentServiceAccount" -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "airflow-platform.serviceAccountName" (dict "root" .root "component" .component) }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "airflow-platform.labels" (dict "root" .root "component" .component) | nindent 4 }}
  {{- with include "airflow-platform.serviceAccountAnnotations" .values | trim }}
  {{- . | nindent 2 }}
  {{- end }}
automountServiceAccountToken: {{ .automountToken }}
{{- end -}}

{{- define "airflow-platform.componentPodDisruptionBudget" -}}
{{- if .values.podDisruptionBudget.enabled }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "airflow-platform.fullname" .root }}-{{ .component }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "airflow-platform.labels" (dict "root" .root "component" .component) | nindent 4 }}
spec:
  maxUnavailable: {{ .values.podDisruptionBudget.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "airflow-platform.selectorLabels" (dict "root" .root "component" .component) | nindent 6 }}
{{- end }}
{{- end -}}

{{/*
A component's NetworkPolicy: ingress only on the listed ports from the listed peers (none means
no ingress at all). Egress stays open: components need DNS, the database and the Kubernetes API,
whose address differs per cluster.
*/}}
{{- define "airflow-platform.componentNetworkPolicy" -}}
{{- if .root.Values.networkPolicies.enabled }}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "airflow-platform.fullname" .root }}-{{ .component }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "airflow-platform.labels" (dict "root" .root "component" .component) | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "airflow-platform.selectorLabels" (dict "root" .root "component" .component) | nindent 6 }}
  policyTypes: [Ingress]
  {{- if .ingress }}
  ingress:
    {{- toYaml .ingress | nindent 4 }}
  {{- else }}
  ingress: []
  {{- end }}
{{- end }}
{{- end -}}

{{/* `airflow jobs check` for components without an HTTP health endpoint. */}}
{{- define "airflow-platform.jobsCheckProbe" -}}
{{- $exec := dict "command" (list "airflow" "jobs" "check" "--job-type" . "--local") -}}
{{- $readiness := dict "exec" $exec "initialDelaySeconds" 30 "periodSeconds" 60 "timeoutSeconds" 30 "failureThreshold" 3 -}}
{{- $liveness := dict "exec" $exec "initialDelaySeconds" 60 "periodSeconds" 60 "timeoutSeconds" 30 "failureThreshold" 5 -}}
{{- toYaml (dict "readiness" $readiness "liveness" $liveness) -}}
{{- end -}}
