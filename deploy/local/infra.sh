#!/usr/bin/env bash
# Local Kafka (Apache Kafka 4.x from Maven Central jars, KRaft single node) and FerretDB
# (MongoDB wire protocol, SQLite backend, built from the Go module proxy) for development and tests.
#
#   deploy/local/infra.sh up     [kafka|mongo|all]   fetch/build if needed, start, wait until ready
#   deploy/local/infra.sh down   [kafka|mongo|all]   SIGTERM, deadline, then SIGKILL
#   deploy/local/infra.sh status [kafka|mongo|all]   exit 0 only if all requested are up and ready
#   deploy/local/infra.sh fetch  [kafka|mongo|all]   only populate the cache (CI warm-up)
#
# Opt-in secured servers (never part of `all`; for the transport-security tests, issue 11 item 9):
#   kafka-sasl   a second broker whose only client listener is SASL_SSL (SCRAM-SHA-512 over TLS),
#                with the SCRAM users `kxflow` (the services' principal) and `admin` (inter-broker)
#   mongo-tls    a second FerretDB listening only on TLS and requiring a client certificate
# Their CA, server and client certificates are generated once with openssl into $KXFLOW_STATE/tls
# (a self-signed test CA, never for production); passwords are random, in files only the user reads.
#
# Environment:
#   KXFLOW_CACHE       downloads, builds, state   (default ~/.cache/kxflow)
#   KXFLOW_STATE       runtime data, pids, logs   (default $KXFLOW_CACHE/state)
#   KXFLOW_KAFKA_PORT  broker port                (default 19092; controller = port + 1)
#   KXFLOW_KAFKA_CONTROLLER_PORT                  (default KXFLOW_KAFKA_PORT + 1)
#   KXFLOW_MONGO_PORT  FerretDB port              (default 27027)
#   KXFLOW_KAFKA_SASL_PORT  SASL_SSL broker port  (default KXFLOW_KAFKA_PORT + 2; controller + 1)
#   KXFLOW_MONGO_TLS_PORT   TLS FerretDB port     (default KXFLOW_MONGO_PORT + 1)
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
SASL_PORT="${KXFLOW_KAFKA_SASL_PORT:-$((KAFKA_PORT + 2))}"
SASL_CTRL_PORT="$((SASL_PORT + 1))"
MONGO_TLS_PORT="${KXFLOW_MONGO_TLS_PORT:-$((MONGO_PORT + 1))}"
KAFKA_HEAP="${KXFLOW_KAFKA_HEAP:-1g}"
TIMEOUT="${KXFLOW_INFRA_TIMEOUT:-120}"
STOP_TIMEOUT="${KXFLOW_INFRA_STOP_TIMEOUT:-30}"
HOST=127.0.0.1
PYTHON="$(command -v python3 || command -v python)"

KAFKA_STATE="$STATE/kafka-$KAFKA_PORT"
MONGO_STATE="$STATE/ferretdb-$MONGO_PORT"
SASL_STATE="$STATE/kafka-sasl-$SASL_PORT"
MONGO_TLS_STATE="$STATE/ferretdb-tls-$MONGO_TLS_PORT"
TLS_DIR="$STATE/tls"

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
            cat "$HERE/ferretdb/main.go"
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

probe() { "$PYTHON" "$HERE/probe.py" "$1" "$HOST:$2" ${3:+"$3"} >/dev/null 2>&1; }

wait_ready() { # name sdir port logfile [cafile: probe over verified TLS]
    local name="$1" sdir="$2" port="$3" logf="$4" cafile="${5:-}" deadline=$((SECONDS + TIMEOUT))
    while ((SECONDS < deadline)); do
        if ! launched_alive "$sdir"; then
            log "$name process died during startup; last lines of $logf:"
            tail -n 40 "$logf" >&2 || true
            die "$name failed to start"
        fi
        if probe "${name%%-*}" "$port" "$cafile"; then
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

# Settings of a single-node KRaft cluster with small internal topics (both local brokers).
single_node_properties() {
    cat <<'EOF'
process.roles=broker,controller
node.id=1
controller.listener.names=CONTROLLER
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
EOF
}

write_kafka_config() {
    cat >"$KAFKA_STATE/server.properties" <<EOF
# Generated by deploy/local/infra.sh; rewritten on every start.
controller.quorum.bootstrap.servers=$HOST:$KAFKA_CTRL_PORT
listeners=PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CTRL_PORT
advertised.listeners=PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CTRL_PORT
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_STATE/data
num.partitions=3
# Tests delete their topics; free the files soon after, not a minute later.
file.delete.delay.ms=1000
auto.create.topics.enable=false
delete.topic.enable=true
$(single_node_properties)
log.retention.hours=24
log.segment.bytes=16777216
EOF
}

up_kafka() {
    local pid libs java_opts # libs, java_opts: read by format_kafka and launch_kafka
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
        format_kafka "$KAFKA_STATE"
        echo "$KAFKA_PORT $KAFKA_CTRL_PORT" >"$KAFKA_STATE/formatted"
    fi
    write_kafka_config
    log "starting Kafka on $HOST:$KAFKA_PORT (controller $KAFKA_CTRL_PORT), log $KAFKA_STATE/broker.log"
    launch_kafka kafka "$KAFKA_STATE" "$KAFKA_PORT"
}

format_kafka() { # sdir [extra StorageTool format arguments...]: a fresh cluster id, storage formatted
    local sdir="$1" cid
    shift
    cid="$("$PYTHON" -c 'import base64,uuid;print(base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode())')"
    log "formatting KRaft storage in $sdir/data (cluster id $cid)"
    # shellcheck disable=SC2086
    java $java_opts -cp "$libs/*" kafka.tools.StorageTool format --standalone -t "$cid" \
        -c "$sdir/server.properties" "$@" >"$sdir/format.log" 2>&1 ||
        { cat "$sdir/format.log" >&2; die "kafka storage format failed ($sdir)"; }
}

launch_kafka() { # name sdir port [cafile]: start the broker of sdir/server.properties, wait until ready
    local name="$1" sdir="$2" port="$3" cafile="${4:-}"
    rotate_log "$sdir/broker.log"
    # Every partition keeps a few files open; allow as many as the hard limit permits.
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    # setsid: own session, survives the caller's Ctrl-C; 9>&-: do not inherit the flock fd.
    # shellcheck disable=SC2086
    setsid java $java_opts -cp "$libs/*" kafka.Kafka "$sdir/server.properties" \
        </dev/null >"$sdir/broker.log" 2>&1 9>&- &
    echo $! >"$sdir/pid"
    LAUNCHED+=("$name")
    wait_ready "$name" "$sdir" "$port" "$sdir/broker.log" "$cafile"
    STARTED+=("$name")
    log "$name ready"
}

prepare_ferretdb() { # sdir port port-variable: build if needed, port free, data dir, log rotated; sets bin
    local sdir="$1" port="$2"
    fetch_ferretdb
    port_busy "$port" && die "port $port is in use by another process (not our FerretDB); set $3"
    bin="$(ferretdb_dir)/ferretdb"
    [[ "${KXFLOW_FRESH:-0}" == 1 ]] && rm -rf "$sdir/data"
    mkdir -p "$sdir/data"
    rotate_log "$sdir/ferretdb.log"
}

up_mongo() {
    local pid bin
    if pid="$(running_pid "$MONGO_STATE")"; then
        wait_ready mongo "$MONGO_STATE" "$MONGO_PORT" "$MONGO_STATE/ferretdb.log"
        log "ferretdb already running (pid $pid)"
        return 0
    fi
    prepare_ferretdb "$MONGO_STATE" "$MONGO_PORT" KXFLOW_MONGO_PORT
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

# ------------------------------------------------------------------------------------ secured servers

random_secret() { "$PYTHON" -c 'import secrets;print(secrets.token_urlsafe(24))'; }

# A private CA, a server certificate for 127.0.0.1/localhost (PEM for FerretDB, PKCS12 for Kafka) and
# a client certificate (mutual TLS with FerretDB). Generated once; a marker is written last.
ensure_tls() {
    [[ -f "$TLS_DIR/.complete" ]] && return 0
    command -v openssl >/dev/null || die "openssl not found; it generates the local TLS certificates"
    rm -rf "$TLS_DIR" && mkdir -p "$TLS_DIR" && chmod 700 "$TLS_DIR"
    log "generating a local CA and certificates into $TLS_DIR (once)"
    if ! (
        set -e
        cd "$TLS_DIR"
        openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=kxflow local test CA" \
            -keyout ca.key -out ca.pem \
            -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
        printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
            "subjectKeyIdentifier=hash" "authorityKeyIdentifier=keyid,issuer" >common.cnf
        cp common.cnf server.cnf
        printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "extendedKeyUsage=serverAuth" >>server.cnf
        cp common.cnf client.cnf
        printf '%s\n' "extendedKeyUsage=clientAuth" >>client.cnf
        for who in server client; do
            openssl req -newkey rsa:2048 -nodes -subj "/CN=kxflow-$who" -keyout "$who.key" -out "$who.csr"
            openssl x509 -req -in "$who.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 \
                -extfile "$who.cnf" -out "$who.pem"
        done
        cat client.pem client.key >client-bundle.pem
        random_secret >storepass
        openssl pkcs12 -export -in server.pem -inkey server.key -certfile ca.pem -name broker \
            -passout "file:storepass" -out broker.p12
        rm -f ./*.csr ./*.cnf ca.srl
        chmod 600 ./*
    ) >"$STATE/tls-gen.log" 2>&1; then
        cat "$STATE/tls-gen.log" >&2
        rm -rf "$TLS_DIR"
        die "certificate generation failed"
    fi
    touch "$TLS_DIR/.complete"
}

write_sasl_config() {
    local storepass admin
    storepass="$(cat "$TLS_DIR/storepass")"
    admin="$(cat "$SASL_STATE/admin.password")"
    (umask 077 && cat >"$SASL_STATE/server.properties") <<PROPS
# Generated by deploy/local/infra.sh; rewritten on every start. Clients reach this broker only
# over SASL_SSL (SCRAM-SHA-512 over TLS); the controller listener stays on loopback in plaintext.
controller.quorum.bootstrap.servers=$HOST:$SASL_CTRL_PORT
listeners=SASL_SSL://$HOST:$SASL_PORT,CONTROLLER://$HOST:$SASL_CTRL_PORT
advertised.listeners=SASL_SSL://$HOST:$SASL_PORT,CONTROLLER://$HOST:$SASL_CTRL_PORT
inter.broker.listener.name=SASL_SSL
listener.security.protocol.map=CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$admin";
ssl.keystore.type=PKCS12
ssl.keystore.location=$TLS_DIR/broker.p12
ssl.keystore.password=$storepass
ssl.key.password=$storepass
ssl.truststore.type=PEM
ssl.truststore.location=$TLS_DIR/ca.pem
ssl.client.auth=none
log.dirs=$SASL_STATE/data
num.partitions=3
auto.create.topics.enable=false
$(single_node_properties)
PROPS
}

up_kafka_sasl() {
    local pid libs java_opts # libs, java_opts: read by format_kafka and launch_kafka
    ensure_tls
    if pid="$(running_pid "$SASL_STATE")"; then
        wait_ready kafka-sasl "$SASL_STATE" "$SASL_PORT" "$SASL_STATE/broker.log" "$TLS_DIR/ca.pem"
        log "kafka-sasl already running (pid $pid)"
        return 0
    fi
    fetch_kafka
    for p in "$SASL_PORT" "$SASL_CTRL_PORT"; do
        port_busy "$p" && die "port $p is in use by another process; set KXFLOW_KAFKA_SASL_PORT"
    done
    libs="$(kafka_dir)/libs"
    java_opts="$(kafka_java_opts)"
    mkdir -p "$SASL_STATE" && chmod 700 "$SASL_STATE"
    [[ "${KXFLOW_FRESH:-0}" == 1 ]] && rm -rf "$SASL_STATE/formatted"
    # SCRAM credentials live in the cluster metadata: they are written when the storage is formatted.
    if [[ "$(cat "$SASL_STATE/formatted" 2>/dev/null)" != "$SASL_PORT" ]]; then
        rm -rf "$SASL_STATE/data" "$SASL_STATE/formatted"
        mkdir -p "$SASL_STATE/data"
        (umask 077 && random_secret >"$SASL_STATE/admin.password" && random_secret >"$SASL_STATE/kxflow.password")
        write_sasl_config
        format_kafka "$SASL_STATE" \
            --add-scram "SCRAM-SHA-512=[name=admin,password=$(cat "$SASL_STATE/admin.password")]" \
            --add-scram "SCRAM-SHA-512=[name=kxflow,password=$(cat "$SASL_STATE/kxflow.password")]"
        echo "$SASL_PORT" >"$SASL_STATE/formatted"
    fi
    write_sasl_config
    log "starting Kafka (SASL_SSL only) on $HOST:$SASL_PORT, log $SASL_STATE/broker.log"
    launch_kafka kafka-sasl "$SASL_STATE" "$SASL_PORT" "$TLS_DIR/ca.pem"
}

up_mongo_tls() {
    local pid bin deadline
    ensure_tls
    if pid="$(running_pid "$MONGO_TLS_STATE")"; then
        log "ferretdb-tls already running (pid $pid)"
        return 0
    fi
    prepare_ferretdb "$MONGO_TLS_STATE" "$MONGO_TLS_PORT" KXFLOW_MONGO_TLS_PORT
    log "starting FerretDB (TLS only, client certificate required) on $HOST:$MONGO_TLS_PORT"
    # --tls-ca-file makes FerretDB require a client certificate signed by that CA (mutual TLS).
    setsid "$bin" --sqlite-url="file:$MONGO_TLS_STATE/data/" --listen-addr="" \
        --listen-tls="$HOST:$MONGO_TLS_PORT" --tls-cert-file="$TLS_DIR/server.pem" \
        --tls-key-file="$TLS_DIR/server.key" --tls-ca-file="$TLS_DIR/ca.pem" --log-level=warn \
        </dev/null >"$MONGO_TLS_STATE/ferretdb.log" 2>&1 9>&- &
    echo $! >"$MONGO_TLS_STATE/pid"
    LAUNCHED+=(mongo-tls)
    # Readiness: the TLS port accepts connections (a ping needs the client certificate; the tests
    # that use this server make one with a deadline).
    deadline=$((SECONDS + TIMEOUT))
    until port_busy "$MONGO_TLS_PORT"; do
        if ! launched_alive "$MONGO_TLS_STATE"; then
            tail -n 40 "$MONGO_TLS_STATE/ferretdb.log" >&2 || true
            die "ferretdb-tls failed to start"
        fi
        ((SECONDS < deadline)) || die "ferretdb-tls readiness deadline exceeded"
        sleep 0.25
    done
    STARTED+=(mongo-tls)
    log "ferretdb-tls ready"
}

kafka_sasl_env() {
    printf 'KAFKA_SASL_BOOTSTRAP_SERVERS=%s:%s\n' "$HOST" "$SASL_PORT"
    printf 'KAFKA_SASL_USERNAME=kxflow\nKAFKA_SASL_PASSWORD_FILE=%s\n' "$SASL_STATE/kxflow.password"
    printf 'KAFKA_SSL_CAFILE=%s\n' "$TLS_DIR/ca.pem"
}

mongo_tls_env() {
    printf 'MONGODB_TLS_URL=mongodb://%s:%s/?directConnection=true\n' "$HOST" "$MONGO_TLS_PORT"
    printf 'MONGODB_TLS_CA_FILE=%s\n' "$TLS_DIR/ca.pem"
    printf 'MONGODB_TLS_CERTIFICATE_KEY_FILE=%s\n' "$TLS_DIR/client-bundle.pem"
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

status_component() { # name sdir port [cafile]
    local name="$1" sdir="$2" port="$3" cafile="${4:-}" pid
    if pid="$(running_pid "$sdir")"; then
        if probe "${name%%-*}" "$port" "$cafile"; then
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
    kafka | mongo | all | kafka-sasl | mongo-tls) ;;
    *) die "unknown component '$what' (kafka|mongo|all|kafka-sasl|mongo-tls)" ;;
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
            if [[ "$c" == kafka-sasl ]]; then stop_component kafka-sasl "$SASL_STATE" || true; fi
            if [[ "$c" == mongo-tls ]]; then stop_component mongo-tls "$MONGO_TLS_STATE" || true; fi
        done
    fi
    exit "$rc"
}
trap cleanup_failed_up EXIT

case "$cmd" in
    up)
        want kafka && up_kafka
        want mongo && up_mongo
        if [[ "$what" == kafka-sasl ]]; then up_kafka_sasl && kafka_sasl_env; fi
        if [[ "$what" == mongo-tls ]]; then up_mongo_tls && mongo_tls_env; fi
        want kafka && kafka_url
        want mongo && mongo_url
        echo "KXFLOW_INFRA_STARTED=${STARTED[*]:-}"
        ;;
    down)
        if want kafka; then stop_component kafka "$KAFKA_STATE"; fi
        if want mongo; then stop_component mongo "$MONGO_STATE"; fi
        if [[ "$what" == kafka-sasl ]]; then stop_component kafka-sasl "$SASL_STATE"; fi
        if [[ "$what" == mongo-tls ]]; then stop_component mongo-tls "$MONGO_TLS_STATE"; fi
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
