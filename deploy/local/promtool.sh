#!/usr/bin/env bash
# Build (once) and print the path of Prometheus' promtool, which checks the chart's alert rules.
#
#   deploy/local/promtool.sh   build if needed; print the absolute path of promtool on stdout
#
# Same pattern as deploy/local/helm.sh: promtool is built from the Go module proxy through the
# wrapper module deploy/tools/promtool (its go.mod pins github.com/prometheus/prometheus with a
# `tool` directive and go.sum checks every module), so no prebuilt binary is downloaded. The binary
# lives in $KXFLOW_CACHE/bin/promtool (default ~/.cache/kxflow) with GOMODCACHE/GOCACHE under the
# same cache; it is rebuilt only when missing or built from another module version (recorded beside
# it). The first build takes several minutes on 2 cores; later calls return at once. An exclusive
# flock serialises concurrent callers.
#
# Environment: KXFLOW_CACHE (cache root), PROMTOOL_BUILD_TIMEOUT (seconds, default 1800).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MODULE="$(cd "$HERE/../tools/promtool" && pwd)"
CACHE="${KXFLOW_CACHE:-$HOME/.cache/kxflow}"
BIN_DIR="$CACHE/bin"
PROMTOOL="$BIN_DIR/promtool"
STAMP="$BIN_DIR/promtool.version"
BUILD_TIMEOUT="${PROMTOOL_BUILD_TIMEOUT:-1800}"

log() { printf '[promtool.sh] %s\n' "$*" >&2; }
die() {
    printf '[promtool.sh] ERROR: %s\n' "$*" >&2
    exit 1
}

wanted_version() {
    awk '$1 == "github.com/prometheus/prometheus" { print $2 }' "$MODULE/go.mod"
}

build() {
    local want="$1" tmp
    command -v go >/dev/null || die "go not found; it is needed once to build promtool"
    export GOMODCACHE="$CACHE/go/mod" GOCACHE="$CACHE/go/build" GOTOOLCHAIN=local GOFLAGS="-buildvcs=false -mod=readonly"
    mkdir -p "$BIN_DIR"
    tmp="$(mktemp "$BIN_DIR/.promtool.XXXXXX")"
    log "building promtool $want from the Go module proxy into $PROMTOOL (once; several minutes)"
    if ! (cd "$MODULE" && CGO_ENABLED=0 timeout "$BUILD_TIMEOUT" \
        go build -trimpath -ldflags "-s -w" -o "$tmp" github.com/prometheus/prometheus/cmd/promtool) >&2; then
        rm -f "$tmp"
        die "go build of promtool failed"
    fi
    chmod 0755 "$tmp"
    "$tmp" --help >/dev/null || die "the built promtool does not run"
    mv -f "$tmp" "$PROMTOOL"
    printf '%s\n' "$want" >"$STAMP"
    log "promtool $want ready"
}

main() {
    local want
    want="$(wanted_version)"
    [[ -n "$want" ]] || die "no github.com/prometheus/prometheus requirement in $MODULE/go.mod"
    mkdir -p "$CACHE"
    exec 9>"$CACHE/promtool.lock"
    flock 9
    if [[ ! -x "$PROMTOOL" || "$(cat "$STAMP" 2>/dev/null)" != "$want" ]]; then
        build "$want"
    fi
    flock -u 9
    printf '%s\n' "$PROMTOOL"
}

main "$@"
