#!/usr/bin/env bash
# Local Kafka (Apache Kafka 4.x from Maven Central jars, KRaft single node) and FerretDB
# (MongoDB wire protocol, SQLite backend, built from the Go module proxy) for development and tests.
#
#   deploy/local/infra.sh up     [kafka|mongo|all]   fetch/build if needed, start, wait until ready
#   deploy/local/infra.sh down   [kafka|mongo|all]   SIGTERM, deadline, then SIGKILL
#   deploy/local/infra.sh status [kafka|mongo|all]   exit 0 only if all requested are up and ready
#   deploy/local/infra.sh fetch  [kafka|mongo|all]   only populate the cache (CI warm-up)
#
# Environment:
#   KXFLOW_CACHE       downloads, builds, state   (default ~/.cache/kxflow)
#   KXFLOW_STATE       runtime data, pids, logs   (default $KXFLOW_CACHE/state)
#   KXFLOW_KAFKA_PORT  broker port                (default 19092; controller = port + 1)
#   KXFLOW_KAFKA_CONTROLLER_PORT                  (default KXFLOW_KAFKA_PORT + 1)
#   KXFLOW_MONGO_PORT  FerretDB port              (default 27027)
#   KXFLOW_KAFKA_HEAP  max heap for the broker    (default 1g)
#   KXFLOW_INFRA_TIMEOUT  readiness deadline, s   (default 120)
#
# stdout carries only machine-readable lines (KAFKA_BOOTSTRAP_SERVERS=..., MONGODB_URL=...,
# KXFLOW_INFRA_STARTED=...); progress and errors go to stderr. Safe to run concurrently: every
# command holds an exclusive flock on $KXFLOW_CACHE/infra.lock.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${KXFLOW_CACHE:-$HOME/.cache/kxflow}"
STATE="${KXFLOW_STATE:-$CACHE/state}"
KAFKA_PORT="${KXFLOW_KAFKA_PORT:-19092}"
KAFKA_CTRL_PORT="${KXFLOW_KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}"
MONGO_PORT="${KXFLOW_MONGO_PORT:-27027}"
KAFKA_HEAP="${KXFLOW_KAFKA_HEAP:-1g}"
TIMEOUT="${KXFLOW_INFRA_TIMEOUT:-120}"
STOP_TIMEOUT="${KXFLOW_INFRA_STOP_TIMEOUT:-30}"
HOST=127.0.0.1
PYTHON="$(command -v python3 || command -v python)"

KAFKA_STATE="$STATE/kafka-$KAFKA_PORT"
MONGO_STATE="$STATE/ferretdb-$MONGO_PORT"

log() { printf '[infra] %s\n' "$*" >&2; }
die() {
    printf '[infra] ERROR: %s\n' "$*" >&2
    exit 1
}

hash_files() { cat "$@" | sha256sum | cut -c1-16; }

# ------------------------------------------------------------------------------------ cache

kafka_dir() { printf '%s/kafka/%s' "$CACHE" "$(hash_files "$HERE/kafka/pom.xml")"; }

ferretdb_dir() {
    local gov
    gov="$(go env GOVERSION 2>/dev/null || echo nogo)"
    printf '%s/ferretdb/%s' "$CACHE" \
        "$( (cat "$HERE/ferretdb/go.mod" "$HERE/ferretdb/go.sum" "$HERE/ferretdb/sqlite-id-index.patch"
            echo "$gov") | sha256sum | cut -c1-16)"
}

# A cache entry is trusted only if its completion marker exists (written last, after verification,
# and the entry is renamed into place atomically). Anything else is deleted and rebuilt.
fetch_kafka() {
    local dir tmp
    dir="$(kafka_dir)"
    if [[ -f "$dir/.complete" && -n "$(compgen -G "$dir/libs/kafka_2.13-*.jar")" ]]; then
        return 0
    fi
    command -v mvn >/dev/null || die "mvn (Maven) not found; it is needed once to gather the Kafka jars"
    command -v java >/dev/null || die "java not found (Java 17+ is needed for Kafka)"
    log "gathering Kafka jars from Maven Central into $dir (once)"
    mkdir -p "$CACHE/kafka"
    rm -rf "$dir" "$CACHE/kafka"/.tmp.* # leftovers of an interrupted fetch (we hold the lock)
    tmp="$(mktemp -d "$CACHE/kafka/.tmp.XXXXXX")"
    if ! mvn -B -q -f "$HERE/kafka/pom.xml" dependency:copy-dependencies \
        -Dmaven.repo.local="$CACHE/m2" -DincludeScope=runtime -DoutputDirectory="$tmp/libs" \
        >"$tmp/mvn.log" 2>&1; then
        tail -n 40 "$tmp/mvn.log" >&2
        rm -rf "$tmp"
        die "mvn dependency:copy-dependencies failed"
    fi
    # Verify: the broker jar is there and the classpath really loads the storage tool.
    if [[ -z "$(compgen -G "$tmp/libs/kafka_2.13-*.jar")" ]] ||
        ! java -cp "$tmp/libs/*" kafka.tools.StorageTool version >"$tmp/version.txt" 2>&1; then
        cat "$tmp/version.txt" >&2 || true
        rm -rf "$tmp"
        die "gathered Kafka classpath is broken"
    fi
    (cd "$tmp/libs" && ls) >"$tmp/.complete"
    mv -T "$tmp" "$dir"
    log "Kafka jars ready in $dir: $(cd "$dir/libs" && ls kafka_2.13-*.jar)"
}

fetch_ferretdb() {
    local dir tmp
    command -v go >/dev/null || die "go not found; it is needed once to build FerretDB"
    dir="$(ferretdb_dir)"
    if [[ -f "$dir/.complete" && -x "$dir/ferretdb" ]]; then
        return 0
    fi
    log "building FerretDB v1.24.2 (SQLite backend) into $dir (once; a few minutes when cold)"
    mkdir -p "$CACHE/ferretdb"
    rm -rf "$dir" "$CACHE/ferretdb"/.tmp.* # leftovers of an interrupted build (we hold the lock)
    tmp="$(mktemp -d "$CACHE/ferretdb/.tmp.XXXXXX")"
    # Built from the wrapper module deploy/local/ferretdb (main.go embeds FerretDB's library package),
    # never with `go install .../cmd/ferretdb@v1.24.2`: that binary panics at start (build/version
    # reads a version.txt missing from the module zip; see main.go). The module is vendored into a
    # copy of the wrapper and sqlite-id-index.patch applied to it (FerretDB's SQLite backend never
    # used its _id index; the patch says why and what it changes).
    cp "$HERE/ferretdb"/go.mod "$HERE/ferretdb"/go.sum "$HERE/ferretdb"/main.go "$tmp/"
    if ! (cd "$tmp" &&
        export GOMODCACHE="$CACHE/go/mod" GOCACHE="$CACHE/go/build" GOTOOLCHAIN=local \
            GOFLAGS="-modcacherw -buildvcs=false" CGO_ENABLED=0 &&
        go mod vendor &&
        patch -p1 -d vendor/github.com/FerretDB/FerretDB <"$HERE/ferretdb/sqlite-id-index.patch" &&
        go build -mod=vendor -trimpath -o "$tmp/ferretdb" . &&
        rm -rf vendor go.mod go.sum main.go) >"$tmp/build.log" 2>&1; then
        tail -n 40 "$tmp/build.log" >&2
        rm -rf "$tmp"
        die "go build of FerretDB failed"
    fi
    if ! "$tmp/ferretdb" --version >"$tmp/version.txt" 2>&1; then
        cat "$tmp/version.txt" >&2 || true
        rm -rf "$tmp"
        die "built FerretDB binary does not start"
    fi
    touch "$tmp/.complete"
    mv -T "$tmp" "$dir"
    log "FerretDB ready in $dir"
}

# ------------------------------------------------------------------------------------ processes

# pid of our process for a component, if alive and really ours (guards against pid reuse).
running_pid() {
    local sdir="$1" pid
    [[ -f "$sdir/pid" ]] || return 1
    pid="$(cat "$sdir/pid" 2>/dev/null)" || return 1
    [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$sdir" || return 1
    printf '%s' "$pid"
}

# Just launched by us: alive and not a zombie. Unlike running_pid this does not look for the state
# directory in the command line, which a freshly forked child does not show until it has exec'd
# (on a busy machine the first check can come before that, which was taken for a death at startup).
launched_alive() {
    local pid state
    pid="$(cat "$1/pid" 2>/dev/null)" || return 1
    [[ -n "$pid" ]] || return 1
    state="$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)" || return 1
    [[ -n "$state" && "$state" != Z ]]
}

port_busy() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

probe() { "$PYTHON" "$HERE/probe.py" "$1" "$HOST:$2" >/dev/null 2>&1; }

wait_ready() { # name sdir port logfile
    local name="$1" sdir="$2" port="$3" logf="$4" deadline=$((SECONDS + TIMEOUT))
    while ((SECONDS < deadline)); do
        if ! launched_alive "$sdir"; then
            log "$name process died during startup; last lines of $logf:"
            tail -n 40 "$logf" >&2 || true
            die "$name failed to start"
        fi
        if probe "$name" "$port"; then
            return 0
        fi
        sleep 0.25
    done
    log "$name not ready after ${TIMEOUT}s; last lines of $logf:"
    tail -n 40 "$logf" >&2 || true
    die "$name readiness deadline exceeded"
}

rotate_log() { [[ -f "$1" ]] && mv -f "$1" "$1.1"; return 0; }

kafka_java_opts() {
    printf '%s' "-Xms256m -Xmx$KAFKA_HEAP -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
-XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true \
-Dlog4j2.configurationFile=$HERE/kafka/log4j2.properties"
}

write_kafka_config() {
    cat >"$KAFKA_STATE/server.properties" <<EOF
# Generated by deploy/local/infra.sh; rewritten on every start.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=$HOST:$KAFKA_CTRL_PORT
listeners=PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CTRL_PORT
advertised.listeners=PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CTRL_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_STATE/data
num.partitions=3
# Tests delete their topics; free the files soon after, not a minute later.
file.delete.delay.ms=1000
auto.create.topics.enable=false
delete.topic.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=3
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
share.coordinator.state.topic.num.partitions=3
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
log.retention.hours=24
log.segment.bytes=16777216
EOF
}

up_kafka() {
    local pid libs cid java_opts
    if pid="$(running_pid "$KAFKA_STATE")"; then
        wait_ready kafka "$KAFKA_STATE" "$KAFKA_PORT" "$KAFKA_STATE/broker.log"
        log "kafka already running (pid $pid)"
        return 0
    fi
    fetch_kafka
    for p in "$KAFKA_PORT" "$KAFKA_CTRL_PORT"; do
        port_busy "$p" && die "port $p is in use by another process (not our Kafka); set KXFLOW_KAFKA_PORT"
    done
    libs="$(kafka_dir)/libs"
    java_opts="$(kafka_java_opts)"
    mkdir -p "$KAFKA_STATE"
    # KXFLOW_FRESH=1 (the test fixtures set it when they start the broker): start from empty
    # storage, so topics left by earlier runs never pile up (each test creates its own).
    [[ "${KXFLOW_FRESH:-0}" == 1 ]] && rm -rf "$KAFKA_STATE/formatted"
    # The data dir is formatted once (marker written after a successful format) for these ports.
    if [[ "$(cat "$KAFKA_STATE/formatted" 2>/dev/null)" != "$KAFKA_PORT $KAFKA_CTRL_PORT" ]]; then
        rm -rf "$KAFKA_STATE/data" "$KAFKA_STATE/formatted"
        mkdir -p "$KAFKA_STATE/data"
        write_kafka_config
        cid="$("$PYTHON" -c 'import base64,uuid;print(base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode())')"
        log "formatting KRaft storage in $KAFKA_STATE/data (cluster id $cid)"
        # shellcheck disable=SC2086
        java $java_opts -cp "$libs/*" kafka.tools.StorageTool format --standalone -t "$cid" \
            -c "$KAFKA_STATE/server.properties" >"$KAFKA_STATE/format.log" 2>&1 ||
            { cat "$KAFKA_STATE/format.log" >&2; die "kafka storage format failed"; }
        echo "$KAFKA_PORT $KAFKA_CTRL_PORT" >"$KAFKA_STATE/formatted"
    fi
    write_kafka_config
    rotate_log "$KAFKA_STATE/broker.log"
    log "starting Kafka on $HOST:$KAFKA_PORT (controller $KAFKA_CTRL_PORT), log $KAFKA_STATE/broker.log"
    # Every partition keeps a few files open; allow as many as the hard limit permits.
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    # setsid: own session, survives the caller's Ctrl-C; 9>&-: do not inherit the flock fd.
    # shellcheck disable=SC2086
    setsid java $java_opts -cp "$libs/*" kafka.Kafka "$KAFKA_STATE/server.properties" \
        </dev/null >"$KAFKA_STATE/broker.log" 2>&1 9>&- &
    echo $! >"$KAFKA_STATE/pid"
    LAUNCHED+=(kafka)
    wait_ready kafka "$KAFKA_STATE" "$KAFKA_PORT" "$KAFKA_STATE/broker.log"
    STARTED+=(kafka)
    log "kafka ready"
}

up_mongo() {
    local pid bin
    if pid="$(running_pid "$MONGO_STATE")"; then
        wait_ready mongo "$MONGO_STATE" "$MONGO_PORT" "$MONGO_STATE/ferretdb.log"
        log "ferretdb already running (pid $pid)"
        return 0
    fi
    fetch_ferretdb
    port_busy "$MONGO_PORT" && die "port $MONGO_PORT is in use by another process (not our FerretDB); set KXFLOW_MONGO_PORT"
    bin="$(ferretdb_dir)/ferretdb"
    [[ "${KXFLOW_FRESH:-0}" == 1 ]] && rm -rf "$MONGO_STATE/data"
    mkdir -p "$MONGO_STATE/data"
    rotate_log "$MONGO_STATE/ferretdb.log"
    log "starting FerretDB on $HOST:$MONGO_PORT, log $MONGO_STATE/ferretdb.log"
    # synchronous(normal) with WAL: no fsync per commit (an fsync here costs ~50 ms, which made every
    # write ~100x slower than MongoDB); still crash-safe for the process, only an OS crash can
    # lose the last commits, acceptable for a development and test server.
    setsid "$bin" --sqlite-url="file:$MONGO_STATE/data/?_pragma=synchronous(normal)" \
        --listen-addr="$HOST:$MONGO_PORT" --log-level=warn \
        </dev/null >"$MONGO_STATE/ferretdb.log" 2>&1 9>&- &
    echo $! >"$MONGO_STATE/pid"
    LAUNCHED+=(mongo)
    wait_ready mongo "$MONGO_STATE" "$MONGO_PORT" "$MONGO_STATE/ferretdb.log"
    STARTED+=(mongo)
    log "ferretdb ready"
}

stop_component() { # name sdir
    local name="$1" sdir="$2" pid deadline
    if ! pid="$(running_pid "$sdir")"; then
        rm -f "$sdir/pid"
        log "$name not running"
        return 0
    fi
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + STOP_TIMEOUT))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
        sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "$name did not stop within ${STOP_TIMEOUT}s; SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    fi
    rm -f "$sdir/pid"
    log "$name stopped"
}

kafka_url() { printf 'KAFKA_BOOTSTRAP_SERVERS=%s:%s\n' "$HOST" "$KAFKA_PORT"; }
mongo_url() { printf 'MONGODB_URL=mongodb://%s:%s/?directConnection=true\n' "$HOST" "$MONGO_PORT"; }

status_component() { # name sdir port
    local name="$1" sdir="$2" port="$3" pid
    if pid="$(running_pid "$sdir")"; then
        if probe "$name" "$port"; then
            log "$name: up (pid $pid, $HOST:$port, state $sdir)"
            return 0
        fi
        log "$name: running but not ready (pid $pid, $HOST:$port)"
        return 1
    fi
    log "$name: down ($HOST:$port)"
    return 1
}

# ------------------------------------------------------------------------------------ main

cmd="${1:-}"
what="${2:-all}"
case "$what" in
    kafka | mongo | all) ;;
    *) die "unknown component '$what' (kafka|mongo|all)" ;;
esac
want() { [[ "$what" == all || "$what" == "$1" ]]; }

mkdir -p "$CACHE" "$STATE"
exec 9>"$CACHE/infra.lock"
if ! flock -w 900 9; then
    die "could not lock $CACHE/infra.lock within 900s"
fi

STARTED=()
LAUNCHED=()
# A failed `up` stops whatever this very call launched, so nothing half-started is left behind.
cleanup_failed_up() {
    local rc=$?
    if ((rc != 0)) && [[ "$cmd" == up ]]; then
        for c in "${LAUNCHED[@]}"; do
            if [[ "$c" == kafka ]]; then stop_component kafka "$KAFKA_STATE" || true; fi
            if [[ "$c" == mongo ]]; then stop_component mongo "$MONGO_STATE" || true; fi
        done
    fi
    exit "$rc"
}
trap cleanup_failed_up EXIT

case "$cmd" in
    up)
        want kafka && up_kafka
        want mongo && up_mongo
        want kafka && kafka_url
        want mongo && mongo_url
        echo "KXFLOW_INFRA_STARTED=${STARTED[*]:-}"
        ;;
    down)
        if want kafka; then stop_component kafka "$KAFKA_STATE"; fi
        if want mongo; then stop_component mongo "$MONGO_STATE"; fi
        ;;
    status)
        rc=0
        if want kafka; then status_component kafka "$KAFKA_STATE" "$KAFKA_PORT" || rc=3; fi
        if want mongo; then status_component mongo "$MONGO_STATE" "$MONGO_PORT" || rc=3; fi
        want kafka && kafka_url
        want mongo && mongo_url
        exit "$rc"
        ;;
    fetch | build)
        want kafka && fetch_kafka
        want mongo && fetch_ferretdb
        log "cache warm: $CACHE"
        ;;
    *)
        sed -n '2,22p' "$0" >&2
        exit 2
        ;;
esac
