{{/*
Facts fixed by the images (deploy/docker/<service>.Dockerfile): HTTP port, env prefix, and whether
the service is a gateway (public HTTP, internet egress, preStop drain). Not values: changing them
needs a new image.
*/}}
{{- define "kxflow.facts" -}}
router:
  port: 8010
  envPrefix: ROUTER_
  gateway: false
kartra-gateway:
  port: 8020
  envPrefix: KARTRA_GW_
  gateway: true
  publicUrlEnv: KARTRA_GW_PUBLIC_BASE_URL
xero-gateway:
  port: 8030
  envPrefix: XERO_GW_
  gateway: true
  publicUrlEnv: XERO_GW_PUBLIC_URL
{{- end -}}

{{- define "kxflow.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "kxflow.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "kxflow.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Name of one service's resources. Args: (dict "root" $ "svc" "router"). */}}
{{- define "kxflow.component" -}}
{{- printf "%s-%s" (include "kxflow.fullname" .root) .svc | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "kxflow.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kxflow.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .svc }}
{{- end -}}

{{- define "kxflow.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: kxflow
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
{{ include "kxflow.selectorLabels" . }}
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Labels of resources that belong to no single service (topics). */}}
{{- define "kxflow.sharedLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: kxflow
app.kubernetes.io/name: {{ include "kxflow.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "kxflow.image" -}}
{{- $img := .root.Values.image -}}
{{- $repo := .cfg.repository -}}
{{- if $img.registry }}{{ $repo = printf "%s/%s" (trimSuffix "/" $img.registry) $repo }}{{ end -}}
{{- if $img.digest -}}
{{- printf "%s@%s" $repo $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo (default .root.Chart.AppVersion $img.tag) -}}
{{- end -}}
{{- end -}}

{{/* A KafkaTopic's Kubernetes name: the topic name lowercased, other characters → "-". */}}
{{- define "kxflow.topicResourceName" -}}
{{- regexReplaceAll "[^a-z0-9.-]" (lower .) "-" | trunc 253 | trimAll "-." -}}
{{- end -}}

{{/*
Partitions of a topic (name relative to the prefix) from kafka.topics.list; fails on an unknown topic.
Args: (dict "root" $ "topic" "kartra.commands.v1").
*/}}
{{- define "kxflow.topicPartitions" -}}
{{- $found := "" -}}
{{- range .root.Values.kafka.topics.list -}}
{{- if eq .name $.topic }}{{ $found = .partitions | toString }}{{ end -}}
{{- end -}}
{{- if not $found }}{{ fail (printf "lagTopics names %q, which is not in kafka.topics.list" .topic) }}{{ end -}}
{{- $found -}}
{{- end -}}

{{/* Services that are enabled, in a stable order. */}}
{{- define "kxflow.enabledServices" -}}
{{- range $svc := list "router" "kartra-gateway" "xero-gateway" -}}
{{- if (index $.Values.services $svc).enabled }}{{ $svc }} {{ end -}}
{{- end -}}
{{- end -}}
