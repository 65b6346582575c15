{{/* Chart name, overridable. */}}
{{- define "tierguard.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Name of the namespaced resources, of the two webhook configurations and of the ClusterRole:
"<release>-tierguard", or the release name alone when it already contains the chart name.
*/}}
{{- define "tierguard.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "tierguard.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "tierguard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tierguard.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "tierguard.labels" -}}
helm.sh/chart: {{ include "tierguard.chart" . }}
{{ include "tierguard.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: tierguard
{{- end }}

{{- define "tierguard.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "tierguard.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret with tls.crt and tls.key (and ca.crt, in the self-managed and cert-manager modes). */}}
{{- define "tierguard.tlsSecretName" -}}
{{- default (printf "%s-tls" (include "tierguard.fullname" .)) .Values.certificates.secretName }}
{{- end }}

{{/* The cert-manager Certificate whose CA the injector copies into the webhook configurations. */}}
{{- define "tierguard.servingCertificateName" -}}
{{- printf "%s-serving" (include "tierguard.fullname" .) }}
{{- end }}

{{/*
The image reference. No tierguard image is published, so there is no default to fall back on: an
empty image.repository stops the render with how to build and push one, instead of a Deployment
stuck in ImagePullBackOff behind webhook configurations that nothing answers.
*/}}
{{- define "tierguard.image" -}}
{{- $repository := required (printf "image.repository is required: no tierguard image is published. Build one from the Dockerfile at the root of the tierguard repository and push it to a registry your nodes can pull from, e.g. `docker build -t registry.example.com/tierguard:%s . && docker push registry.example.com/tierguard:%s`, then install with `--set image.repository=registry.example.com/tierguard` (image.tag defaults to the chart's appVersion, %s; add imagePullSecrets for a private registry)" .Chart.AppVersion .Chart.AppVersion .Chart.AppVersion) .Values.image.repository }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
The caBundle of a webhook configuration, from (dict "kind" KIND "context" $):
- provided: certificates.caBundle;
- self-managed: the bundle tierguard already patched into the live configuration, so that an
  upgrade does not blank it and fail every call until tierguard patches it again (lookup finds
  nothing under `helm template` or --dry-run, and tierguard then patches it at start);
- cert-manager: nothing, the CA injector fills it.
*/}}
{{- define "tierguard.caBundle" -}}
{{- $values := .context.Values -}}
{{- if eq $values.certificates.mode "provided" -}}
{{- required "certificates.caBundle is required when certificates.mode is provided" $values.certificates.caBundle -}}
{{- else if eq $values.certificates.mode "self-managed" -}}
{{- $live := lookup "admissionregistration.k8s.io/v1" .kind "" (include "tierguard.fullname" .context) -}}
{{- $bundle := "" -}}
{{- range (($live).webhooks | default list) -}}
{{- if and (not $bundle) .clientConfig.caBundle -}}
{{- $bundle = .clientConfig.caBundle -}}
{{- end -}}
{{- end -}}
{{- $bundle -}}
{{- end -}}
{{- end }}
