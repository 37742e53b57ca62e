{{/* Names, labels, and the operator's RBAC rules (shared by the ClusterRole and the per-namespace Roles). */}}

{{- define "convoy.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name: the release name alone when it already says "convoy". */}}
{{- define "convoy.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "convoy.selectorLabels" -}}
app.kubernetes.io/name: {{ include "convoy.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "convoy.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "convoy.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: convoy
{{- end }}

{{- define "convoy.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "convoy.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "convoy.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* Service names are DNS labels (63 characters at most): the full name is cut to leave room for the suffix. */}}
{{- define "convoy.metricsService" -}}
{{- printf "%s-metrics" (include "convoy.fullname" . | trunc 55 | trimSuffix "-") }}
{{- end }}

{{- define "convoy.webhookService" -}}
{{- printf "%s-webhook" (include "convoy.fullname" . | trunc 55 | trimSuffix "-") }}
{{- end }}

{{- define "convoy.webhookSecret" -}}
{{- default (printf "%s-webhook-tls" (include "convoy.fullname" .)) .Values.webhook.certSecret }}
{{- end }}

{{/* "true" when more than one replica runs: kopf peering keeps one of them active. */}}
{{- define "convoy.ha" -}}
{{- if gt (int .Values.replicaCount) 1 }}true{{ end }}
{{- end }}

{{/* The kopf peering object's name: one per release, so two releases never pause each other. */}}
{{- define "convoy.peeringName" -}}
{{- include "convoy.fullname" . }}
{{- end }}

{{/*
The operator's rules on namespaced resources: in the ClusterRole (whole cluster) or in a Role per watched
namespace. Each rule names the code that needs it; charts/convoy/README.md has the same table, and
tests/unit/test_chart.py checks the rendered roles against it.
*/}}
{{- define "convoy.rules.namespaced" -}}
# handlers/operator.py watches runs; adapters/resources.py read(), list_all() (startup), annotate() (barriers)
# adapters/triggered.py create_run(): a GitOps trigger starts a run
# adapters/stage_runs.py list_labelled(), ensure_stage_run() (create), abort_stage_run() (patch): pipeline stages
# adapters/rollbacks.py ensure_rollback_requested() (patch: a Rollback's decision); handlers/history.py runs_in() (list)
- apiGroups: ["convoy.dev"]
  resources: ["workflowruns"]
  verbs: ["get", "list", "watch", "create", "patch"]
# handlers/operator.py pipeline_run_event (watch); handlers/pipelineruns.py reconcile (get), handlers/barriers.py
- apiGroups: ["convoy.dev"]
  resources: ["pipelineruns"]
  verbs: ["get", "list", "watch"]
# adapters/resources.py replace_status(), from handlers/pipelineruns.py reconcile
- apiGroups: ["convoy.dev"]
  resources: ["pipelineruns/status"]
  verbs: ["patch"]
# handlers/operator.py watches definitions; handlers/workflowruns.py resolve_workflow(), handlers/definitions.py
- apiGroups: ["convoy.dev"]
  resources: ["workflows", "pipelines"]
  verbs: ["get", "list", "watch"]
# adapters/resources.py replace_status(): the one status write per reconcile
- apiGroups: ["convoy.dev"]
  resources: ["workflowruns/status", "workflows/status", "pipelines/status"]
  verbs: ["patch"]
# handlers/operator.py rollback_event (watch); handlers/rollbacks.py reconcile (get)
- apiGroups: ["convoy.dev"]
  resources: ["rollbacks"]
  verbs: ["get", "list", "watch"]
# adapters/resources.py replace_status(), from handlers/rollbacks.py reconcile
- apiGroups: ["convoy.dev"]
  resources: ["rollbacks/status"]
  verbs: ["patch"]
# handlers/operator.py deployment_event (watch); adapters/workloads.py read_deployment(), set_image(), restore_snapshot();
# adapters/copies.py ensure_copy() (create: canary, blue/green colors), scale() (patch), delete() (a promoted canary)
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
# adapters/services.py point_service(): the canary Service's selector
- apiGroups: [""]
  resources: ["services"]
  verbs: ["get", "patch"]
# adapters/routes.py GatewayRouter: the backend weights of a traffic-route canary
- apiGroups: ["gateway.networking.k8s.io"]
  resources: ["httproutes"]
  verbs: ["get", "patch"]
# handlers/operator.py job_event (watch); adapters/jobs.py ensure_job(), observe(), delete_job()
- apiGroups: ["batch"]
  resources: ["jobs"]
  verbs: ["create", "list", "watch", "delete"]
# adapters/workloads.py _ensure_snapshot() (create), restore_snapshot() (get); adapters/manifests.py: a Basic
# workflow's ConfigMaps, server-side applied (patch) and, on rollback, deleted when the run created them
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["create", "get", "patch", "delete"]
# adapters/events.py record_event()
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
# adapters/notify.py notify(): the webhook URL of a notify step, read when sending
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
{{- end }}

{{/* Cluster-scoped reads and writes kopf itself makes: they stay in a ClusterRole in both modes. */}}
{{- define "convoy.rules.clusterScoped" -}}
# kopf (reactor/observation.py resource_observer): notices CRDs added or removed
- apiGroups: ["apiextensions.k8s.io"]
  resources: ["customresourcedefinitions"]
  verbs: ["list", "watch"]
{{- if .Values.watchNamespaces }}
# kopf (reactor/observation.py namespace_observer): only when namespaces are listed (-n)
- apiGroups: [""]
  resources: ["namespaces"]
  verbs: ["list", "watch"]
{{- end }}
# kopf (engines/admission.py configuration_manager): creates the webhook configurations if absent...
- apiGroups: ["admissionregistration.k8s.io"]
  resources: ["validatingwebhookconfigurations", "mutatingwebhookconfigurations"]
  verbs: ["create"]
# ...and patches only Convoy's own (handlers/operator.py: settings.admission.managed = "convoy.dev")
- apiGroups: ["admissionregistration.k8s.io"]
  resources: ["validatingwebhookconfigurations", "mutatingwebhookconfigurations"]
  resourceNames: ["convoy.dev"]
  verbs: ["patch"]
{{- end }}

{{/* kopf peering (engines/peering.py): watch the peering object, and patch it with this replica's keep-alive. */}}
{{- define "convoy.rules.peering" -}}
{{- $resource := ternary "kopfpeerings" "clusterkopfpeerings" (not (empty .Values.watchNamespaces)) -}}
# kopf (engines/peering.py process_peering_event): sees the other replicas
- apiGroups: ["kopf.dev"]
  resources: [{{ $resource | quote }}]
  verbs: ["list", "watch"]
# kopf (engines/peering.py touch, clean): this replica's keep-alive, in this release's peering object only
- apiGroups: ["kopf.dev"]
  resources: [{{ $resource | quote }}]
  resourceNames: [{{ include "convoy.peeringName" . | quote }}]
  verbs: ["patch"]
{{- end }}
