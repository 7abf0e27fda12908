#!/usr/bin/env bash
# Build (once) and print the path of the helm binary the chart tests and `make chart` use.
#
#   deploy/local/helm.sh            build if needed; print the absolute path of helm on stdout
#   deploy/local/helm.sh --version  same, then print the binary's version on stderr
#
# helm is built from the Go module proxy through the wrapper module deploy/tools/helm (its go.mod
# pins helm.sh/helm/v3 with a `tool` directive and go.sum checks every module), so no prebuilt
# binary is downloaded. The binary lives in $KXFLOW_CACHE/bin/helm (default ~/.cache/kxflow) with
# GOMODCACHE/GOCACHE under the same cache; it is rebuilt only when it is missing or reports a version
# other than the one go.mod pins. The first build takes a few minutes on 2 cores; later calls return
# at once. The build writes to a temporary file and renames it into place, and an exclusive flock
# serialises concurrent callers (parallel pytest workers, CI and a developer shell).
#
# Environment: KXFLOW_CACHE (cache root), HELM_BUILD_TIMEOUT (seconds for the build, default 1500).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MODULE="$(cd "$HERE/../tools/helm" && pwd)"
CACHE="${KXFLOW_CACHE:-$HOME/.cache/kxflow}"
BIN_DIR="$CACHE/bin"
HELM="$BIN_DIR/helm"
BUILD_TIMEOUT="${HELM_BUILD_TIMEOUT:-1500}"

log() { printf '[helm.sh] %s\n' "$*" >&2; }
die() {
    printf '[helm.sh] ERROR: %s\n' "$*" >&2
    exit 1
}

# The version go.mod pins, e.g. v3.22.0: the single source of truth for what the cache must hold.
wanted_version() {
    awk '$1 == "helm.sh/helm/v3" { print $2 }' "$MODULE/go.mod"
}

installed_version() {
    [[ -x "$HELM" ]] || return 0
    "$HELM" version --template '{{ .Version }}' 2>/dev/null || true
}

build() {
    local want="$1" tmp k8s major minor
    command -v go >/dev/null || die "go not found; it is needed once to build helm"
    export GOMODCACHE="$CACHE/go/mod" GOCACHE="$CACHE/go/build" GOTOOLCHAIN=local GOFLAGS="-buildvcs=false -mod=readonly"
    mkdir -p "$BIN_DIR"
    # Same link-time values as helm's own Makefile: the version, and the default Kubernetes version
    # (client-go v0.X.Y → 1.X) used by `helm template` without --kube-version and by `helm lint`.
    k8s="$(cd "$MODULE" && go list -m -f '{{ .Version }}' k8s.io/client-go)"
    minor="$(cut -d. -f2 <<<"$k8s")"
    major=1
    local ldflags="-s -w"
    ldflags+=" -X helm.sh/helm/v3/internal/version.version=$want"
    ldflags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
    ldflags+=" -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=$major"
    ldflags+=" -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$minor"
    ldflags+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=$major"
    ldflags+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$minor"
    tmp="$(mktemp "$BIN_DIR/.helm.XXXXXX")"
    log "building helm $want from the Go module proxy into $HELM (once; a few minutes)"
    if ! (cd "$MODULE" && CGO_ENABLED=0 timeout "$BUILD_TIMEOUT" \
        go build -trimpath -ldflags "$ldflags" -o "$tmp" helm.sh/helm/v3/cmd/helm) >&2; then
        rm -f "$tmp"
        die "go build of helm failed"
    fi
    chmod 0755 "$tmp"
    local got
    got="$("$tmp" version --template '{{ .Version }}')"
    if [[ "$got" != "$want" ]]; then
        rm -f "$tmp"
        die "built helm reports $got, expected $want"
    fi
    mv -f "$tmp" "$HELM"
    log "helm $want ready"
}

main() {
    local want
    want="$(wanted_version)"
    [[ -n "$want" ]] || die "no helm.sh/helm/v3 requirement in $MODULE/go.mod"
    mkdir -p "$CACHE"
    exec 9>"$CACHE/helm.lock"
    flock 9
    if [[ "$(installed_version)" != "$want" ]]; then
        build "$want"
    fi
    flock -u 9
    printf '%s\n' "$HELM"
    if [[ "${1:-}" == "--version" ]]; then
        "$HELM" version >&2
    fi
}

main "$@"
