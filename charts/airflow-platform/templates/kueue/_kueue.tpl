{{/*
Kueue objects from the flavor catalog (kueue.enabled; Kueue itself is installed separately,
docs/kueue.md). Kinds of node, not catalog flavors, become ResourceFlavors:

* one for CPU and memory, with no node labels: every job pod's CPU and memory count against it,
  so `teams.<team>.quota.cpu` and `.memory` bound all of a team's pods together, as the
  ResourceQuota does without Kueue (where a pod lands stays the pod builder's affinity);
* one per GPU product of the catalog (any GPU node when a GPU flavor names no product), with
  the platform's GPU node labels and taint: a GPU pod's GPUs count against its product's.

Read the list with (include "airflow-platform.kueueFlavors" . | fromYaml).flavors: each entry
has name, resource (the GPU resource; none for CPU), nodeLabels and nodeTaints.
*/}}
{{- define "airflow-platform.kueueFlavors" -}}
{{- $full := include "airflow-platform.fullname" . -}}
{{- $nodes := .Values.platform.gpu_nodes | default dict -}}
{{- $productLabel := $nodes.product_label | default "nvidia.com/gpu.product" -}}
{{- $taint := $nodes.taint | default "nvidia.com/gpu" -}}
{{- $out := list (dict "name" (printf "%s-cpu" $full)) -}}
{{- $seen := dict -}}
{{- range $name, $flavor := .Values.platform.flavors -}}
{{- with $flavor.gpu -}}
{{- $resource := .resource | default "nvidia.com/gpu" -}}
{{- $product := .product | default "" | toString -}}
{{- $key := printf "%s/%s" $resource $product -}}
{{- if not (hasKey $seen $key) -}}
{{- $_ := set $seen $key true -}}
{{- $suffix := ternary "gpu" (printf "gpu-%s" (regexReplaceAll "[^a-z0-9-]+" (lower $product) "-")) (eq $product "") -}}
{{- $labels := ternary (dict) (dict $productLabel $product) (eq $product "") -}}
{{- $out = append $out (dict "name" (printf "%s-%s" $full $suffix | trunc 63 | trimSuffix "-") "resource" $resource "nodeLabels" $labels "nodeTaints" (list (dict "key" $taint "effect" "NoSchedule"))) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toYaml (dict "flavors" $out) -}}
{{- end -}}

{{/* The ClusterQueue of a team. Call with (dict "root" $ "team" $team). */}}
{{- define "airflow-platform.kueueClusterQueueName" -}}
{{- printf "%s-%s" (include "airflow-platform.fullname" .root) .team | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* One quota entry: nominalQuota from the team's quota (0 when it names none), borrowingLimit
from its borrowing_limit. Call with (dict "resource" "cpu" "team" $spec). */}}
{{- define "airflow-platform.kueueQuota" -}}
{{- $quota := .team.quota | default dict -}}
{{- $borrow := .team.borrowing_limit | default dict -}}
- name: {{ .resource }}
  nominalQuota: {{ (index $quota .resource | default 0) | toString | quote }}
  {{- if hasKey $borrow .resource }}
  borrowingLimit: {{ index $borrow .resource | toString | quote }}
  {{- end }}
{{- end -}}
