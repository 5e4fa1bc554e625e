{{/* Names, labels and derived values shared by the templates. */}}

{{- define "token-broker.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "token-broker.fullname" -}}
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

{{/* Deployment, Service and friends: "<fullname>-webhook" (certs/generate.sh's default Service name). */}}
{{- define "token-broker.webhookName" -}}
{{- printf "%s-webhook" (include "token-broker.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "token-broker.tlsSecretName" -}}
{{- if eq .Values.tls.mode "secret" -}}
{{- required "tls.secret.name is required with tls.mode=secret: the name of a kubernetes.io/tls Secret in the release namespace" .Values.tls.secret.name -}}
{{- else -}}
{{- printf "%s-tls" (include "token-broker.webhookName" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "token-broker.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "token-broker.webhookName" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
The MutatingWebhookConfiguration name. The API server runs mutating webhooks in configuration-name
order, and ours must run after EKS's "pod-identity-webhook" (ADR 0002).
*/}}
{{- define "token-broker.webhookConfigurationName" -}}
{{- $eks := "pod-identity-webhook" -}}
{{- $name := .Values.webhook.configurationName -}}
{{- if not $name -}}
{{- $name = include "token-broker.fullname" . -}}
{{- if le $name $eks -}}
{{- $name = printf "token-broker-%s" $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- if le $name $eks -}}
{{- fail (printf "webhook.configurationName=%q sorts before %q, so the API server would call it before the EKS pod-identity webhook and the sidecar would miss the pod's AWS identity: pick a name that sorts after it, e.g. \"token-broker\"" $name $eks) -}}
{{- end -}}
{{- $name -}}
{{- end -}}

{{- define "token-broker.selectorLabels" -}}
app.kubernetes.io/name: {{ include "token-broker.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: webhook
{{- end -}}

{{- define "token-broker.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "token-broker.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: token-broker
{{- end -}}

{{/* repository[:tag][@digest] */}}
{{- define "token-broker.imageRef" -}}
{{- $ref := .repository -}}
{{- if .digest -}}
{{- $ref = printf "%s@%s" $ref .digest -}}
{{- else if .tag -}}
{{- $ref = printf "%s:%s" $ref .tag -}}
{{- end -}}
{{- $ref -}}
{{- end -}}

{{- define "token-broker.image" -}}
{{- $i := .Values.image -}}
{{- include "token-broker.imageRef" (dict "repository" $i.repository "tag" (toString (default .Chart.AppVersion $i.tag)) "digest" $i.digest) -}}
{{- end -}}

{{/* The sidecar defaults to the webhook's own image: one image, two subcommands. */}}
{{- define "token-broker.sidecarImage" -}}
{{- $s := .Values.sidecar.image -}}
{{- if $s.repository -}}
{{- include "token-broker.imageRef" (dict "repository" $s.repository "tag" (toString (default .Chart.AppVersion $s.tag)) "digest" $s.digest) -}}
{{- else -}}
{{- include "token-broker.image" . -}}
{{- end -}}
{{- end -}}

{{/*
Sidecar mode: the value when set; else native on Kubernetes >= 1.29 (restartable init containers), legacy
before, where the API server drops restartPolicy and a native sidecar never lets the pod leave Init.
*/}}
{{- define "token-broker.sidecarMode" -}}
{{- if .Values.sidecar.mode -}}
{{- .Values.sidecar.mode -}}
{{- else if semverCompare ">=1.29.0-0" .Capabilities.KubeVersion.Version -}}
native
{{- else -}}
legacy
{{- end -}}
{{- end -}}

{{- define "token-broker.serviceHost" -}}
{{- printf "%s.%s.svc" (include "token-broker.webhookName" .) .Release.Namespace -}}
{{- end -}}

{{/* Scrape TLS for the webhook's /metrics: the given tlsConfig, else the CA from the TLS Secret. */}}
{{- define "token-broker.metricsTlsConfig" -}}
{{- $root := .root -}}
{{- if .tlsConfig -}}
{{- toYaml .tlsConfig -}}
{{- else if eq $root.Values.tls.mode "secret" -}}
{{- fail "metrics.serviceMonitor.tlsConfig / metrics.podMonitor.tlsConfig is required with tls.mode=secret (the chart cannot know where your CA is): e.g. {ca: {secret: {name: my-ca, key: ca.crt}}} or {insecureSkipVerify: true}" -}}
{{- else -}}
ca:
  secret:
    name: {{ include "token-broker.tlsSecretName" $root }}
    key: ca.crt
serverName: {{ include "token-broker.serviceHost" $root }}
{{- end -}}
{{- end -}}

{{/*
tls.mode=helm key material, as YAML {caCrt, caKey, tlsCrt, tlsKey} (base64). Generated once per render
and cached in .Values, because the Secret and the webhook's caBundle live in different templates and
must carry the same CA. The CA comes from the existing Secret when there is one (lookup; always empty
under `helm template`), so upgrades keep the caBundle.
*/}}
{{- define "token-broker.helmTls" -}}
{{- if not (hasKey .Values.tls "_generated") -}}
{{- $secretName := include "token-broker.tlsSecretName" . -}}
{{- $service := include "token-broker.webhookName" . -}}
{{- $ns := .Release.Namespace -}}
{{- $existing := lookup "v1" "Secret" $ns $secretName -}}
{{- $ca := dict -}}
{{- if and $existing $existing.data (index $existing.data "ca.crt") (index $existing.data "ca.key") -}}
{{- $ca = buildCustomCert (index $existing.data "ca.crt") (index $existing.data "ca.key") -}}
{{- else -}}
{{- $ca = genCA "token-broker-webhook-ca" (int .Values.tls.helm.caValidityDays) -}}
{{- end -}}
{{- $host := include "token-broker.serviceHost" . -}}
{{- $names := list $service (printf "%s.%s" $service $ns) $host (printf "%s.%s" $host .Values.tls.clusterDomain) -}}
{{- $cert := genSignedCert $host nil $names (int .Values.tls.helm.certValidityDays) $ca -}}
{{- $_ := set .Values.tls "_generated" (dict "caCrt" ($ca.Cert | b64enc) "caKey" ($ca.Key | b64enc) "tlsCrt" ($cert.Cert | b64enc) "tlsKey" ($cert.Key | b64enc)) -}}
{{- end -}}
{{- toYaml .Values.tls._generated -}}
{{- end -}}

{{/* The caBundle (base64 PEM) the API server trusts; cert-manager mode leaves it to the cainjector. */}}
{{- define "token-broker.caBundle" -}}
{{- if eq .Values.tls.mode "helm" -}}
{{- (include "token-broker.helmTls" . | fromYaml).caCrt -}}
{{- else if eq .Values.tls.mode "secret" -}}
{{- required "tls.secret.caBundle is required with tls.mode=secret: the base64 PEM of the CA that signed the Secret's tls.crt (certs/generate.sh prints it)" .Values.tls.secret.caBundle -}}
{{- end -}}
{{- end -}}
