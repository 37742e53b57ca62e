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

{{- define "convoy.sealSecret" -}}
{{- default (printf "%s-seal-key" (include "convoy.fullname" .)) .Values.seal.keySecret }}
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
The ServiceAccount names the operator may impersonate in a tenant's namespace: tenancy.serviceAccounts, plus the
default one (a Workflow without spec.serviceAccountName acts as it), each once.
*/}}
{{- define "convoy.tenancy.serviceAccounts" -}}
{{- append .Values.tenancy.serviceAccounts .Values.tenancy.defaultServiceAccount | uniq | toJson }}
{{- end }}

{{/*
The operator's rules on namespaced resources: in the ClusterRole (whole cluster) or in a Role per watched
namespace. Each rule names the code that needs it; charts/convoy/README.md has the same table, and
tests/unit/test_chart.py checks the rendered roles against it. The operator writes only Convoy's own objects,
Events and (through impersonation) nothing else: every change to a tenant's Deployments, Services, routes, Jobs,
ConfigMaps and manifests is made as the tenant's ServiceAccount (adapters/kube.py acting_as), which the tenant
binds to the convoy-runner ClusterRole (rbac-runner.yaml). It reads no Secret: those are read as the tenant too.
*/}}
{{- define "convoy.rules.namespaced" -}}
# handlers/operator.py run_event (watch); adapters/resources.py read, list_all (startup), annotate (barrier marks);
# adapters/triggered.py create_run (GitOps triggers); adapters/stage_runs.py list_labelled, abort_stage_run;
# adapters/rollbacks.py ensure_rollback_requested (a Rollback's decision); handlers/history.py runs_in (list);
# adapters/resources.py delete (finished runs: ttlSecondsAfterFinished, runHistoryLimit)
- apiGroups: ["convoy.dev"]
  resources: ["workflowruns"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
# handlers/operator.py watches definitions, pipeline runs and rollbacks; handlers/workflowruns.py resolve_workflow,
# handlers/definitions.py, handlers/pipelineruns.py, handlers/barriers.py, handlers/rollbacks.py reconcile;
# adapters/grants.py refusal (the Grants of a referenced namespace)
- apiGroups: ["convoy.dev"]
  resources: ["workflows", "pipelines", "pipelineruns", "rollbacks", "grants"]
  verbs: ["get", "list", "watch"]
# adapters/resources.py replace_status: the one status write per reconcile
- apiGroups: ["convoy.dev"]
  resources: ["workflowruns/status", "pipelineruns/status", "workflows/status", "pipelines/status", "rollbacks/status"]
  verbs: ["patch"]
# adapters/events.py record_event; adapters/notify.py claimed (was a notification delivered: its claim Event)
- apiGroups: [""]
  resources: ["events"]
  verbs: ["get", "create"]
# handlers/operator.py deployment_event, triggers.py (watch); adapters/workloads.py read_deployment, observe
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "list", "watch"]
# handlers/operator.py job_event (watch); adapters/jobs.py observe
- apiGroups: ["batch"]
  resources: ["jobs"]
  verbs: ["get", "list", "watch"]
# adapters/jobs.py observe: the termination message of a completed Job's pod (its outputs); read only
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list"]
# adapters/services.py selector (the canary Service's selector)
- apiGroups: [""]
  resources: ["services"]
  verbs: ["get", "list", "watch"]
# adapters/workloads.py restore_snapshot, adapters/manifests.py: a snapshot is read, and trusted only when the run owns it
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get", "list", "watch"]
# adapters/routes.py GatewayRouter observe (a traffic-route canary's weights)
- apiGroups: ["gateway.networking.k8s.io"]
  resources: ["httproutes"]
  verbs: ["get", "list", "watch"]
# adapters/autoscalers.py observe (the HPA a canary carries through its phases); read only
- apiGroups: ["autoscaling"]
  resources: ["horizontalpodautoscalers"]
  verbs: ["get", "list", "watch"]
# adapters/kube.py acting_as (impersonation): only the ServiceAccount names the chart allows
- apiGroups: [""]
  resources: ["serviceaccounts"]
  resourceNames: {{ include "convoy.tenancy.serviceAccounts" . }}
  verbs: ["impersonate"]
{{- end }}

{{/* Cluster-scoped reads and writes of kopf and of the webhooks: they stay in a ClusterRole in both modes. */}}
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
# handlers/admission.py: may the user create Rollbacks (a Rollback decision) or Workflows (an inline workflow)?
- apiGroups: ["authorization.k8s.io"]
  resources: ["subjectaccessreviews"]
  verbs: ["create"]
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
