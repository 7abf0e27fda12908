"""``make bench``: every benchmark in one run, one table, one JSON file.

    uv run python deploy/local/bench.py [--smoke] [--update-docs] [--json bench-results/latest.json]

1. ensures Kafka and FerretDB (``deploy/local/infra.sh up``, or ``KAFKA_BOOTSTRAP_SERVERS`` /
   ``MONGODB_URL`` if set);
2. raw floors measured here, in the same run: Kafka produce and consume (acks=all, idempotent),
   a single-record produce round trip, and FerretDB's raw insert rate;
3. the per-service benchmarks in ``tests/bench/`` (kartra intake, router, Xero scheduler), each a
   subprocess with ``--json``;
4. the end-to-end benchmark (``tests/bench/bench_e2e.py``): the whole system as OS processes.

Prints one table (Markdown), writes every figure with the machine facts to ``--json``, and with
``--update-docs`` rewrites the table section of ``docs/performance.md``. Non-interactive; the full
form takes a few minutes on a quiet 2-core machine, ``--smoke`` well under a minute per part.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "tests" / "bench"
DOC = ROOT / "docs" / "performance.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


# -- infrastructure and machine -------------------------------------------------------------------------
def ensure_infra() -> dict[str, str]:
    """Kafka + FerretDB addresses: the environment's, else ``infra.sh up`` (starts them if needed)."""
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS") and os.environ.get("MONGODB_URL"):
        return {k: os.environ[k] for k in ("KAFKA_BOOTSTRAP_SERVERS", "MONGODB_URL")}
    out = subprocess.run(
        [str(ROOT / "deploy/local/infra.sh"), "up"], capture_output=True, text=True, check=True
    ).stdout
    found = dict(re.findall(r"^(KAFKA_BOOTSTRAP_SERVERS|MONGODB_URL)=(\S+)$", out, re.M))
    if len(found) != 2:
        raise SystemExit(f"infra.sh up did not print both addresses:\n{out}")
    return found


def machine() -> dict[str, Any]:
    import psutil

    cpu = (
        next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            platform.processor() or "unknown",
        )
        if Path("/proc/cpuinfo").exists()
        else platform.processor()
    )
    pom = (ROOT / "deploy/local/kafka/pom.xml").read_text()
    gomod = (ROOT / "deploy/local/ferretdb/go.mod").read_text()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "cpu": cpu,
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "kafka": m[1] if (m := re.search(r"<kafka.version>([^<]+)<", pom)) else "?",
        "ferretdb": m[1] if (m := re.search(r"FerretDB/FerretDB (v\S+)", gomod)) else "?",
        "commit": commit,
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
    }


# -- raw floors ----------------------------------------------------------------------------------------
def pct(values: list[float], p: int) -> float:
    if len(values) < 2:
        return values[0] if values else math.nan
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


async def kafka_floor(bootstrap: str, n: int) -> dict[str, float]:
    """Produce ``n`` 1 KiB records (acks=all, idempotent, batched), consume them back; and the round
    trip of one record at a time. The most any Kafka client in this run could do."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    topic = f"bench-floor-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, num_partitions=6, replication_factor=1)])
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5, max_batch_size=262144
    )
    await producer.start()
    value = b"x" * 1024
    try:
        t0 = time.perf_counter()
        futures = [await producer.send(topic, value, key=str(i).encode()) for i in range(n)]
        await asyncio.gather(*futures)
        produce_s = time.perf_counter() - t0
        single = []
        for i in range(200):
            t = time.perf_counter()
            await producer.send_and_wait(topic, value, key=str(i).encode())
            single.append((time.perf_counter() - t) * 1000)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        got, t0 = 0, time.perf_counter()
        while got < n + 200:
            batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
            got += sum(len(v) for v in batch.values())
        consume_s = time.perf_counter() - t0
    finally:
        await consumer.stop()
        await admin.delete_topics([topic])
        await admin.close()
    return {
        "produce_per_s": n / produce_s,
        "consume_per_s": (n + 200) / consume_s,
        "single_send_p50_ms": pct(single, 50),
        "single_send_p99_ms": pct(single, 99),
        "record_bytes": 1024,
    }


async def mongo_floor(url: str, n: int, concurrency: int = 16) -> dict[str, float]:
    """Raw ``insert_one`` rate of the MongoDB-wire server (FerretDB on SQLite here): what every
    store-bound figure below competes for."""
    from pymongo import AsyncMongoClient

    client: AsyncMongoClient[Any] = AsyncMongoClient(url)
    db = f"bench_floor_{uuid.uuid4().hex[:8]}"
    coll = client[db]["docs"]
    latencies: list[float] = []
    todo = iter(range(n))

    async def worker() -> None:
        for i in todo:
            t = time.perf_counter()
            await coll.insert_one({"_id": i, "tenant": "t", "payload": "x" * 256})
            latencies.append((time.perf_counter() - t) * 1000)

    try:
        await coll.insert_one({"_id": -1})  # creates the collection outside the measurement
        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - t0
    finally:
        await client.drop_database(db)
        await client.close()
    return {"inserts_per_s": n / elapsed, "p50_ms": pct(latencies, 50), "p99_ms": pct(latencies, 99)}


async def id_lookups(url: str) -> str:
    """How the store answers a filter on ``_id`` plus a condition (the ledgers' and the run store's
    compare-and-set): from the ``_id`` index, or by scanning (stock FerretDB 1.24; see
    deploy/local/ferretdb/sqlite-id-index.patch). Asked of the server, so the table says what ran."""
    from pymongo import AsyncMongoClient

    client: AsyncMongoClient[Any] = AsyncMongoClient(url)
    db = client[f"bench_probe_{uuid.uuid4().hex[:8]}"]
    try:
        await db["docs"].insert_one({"_id": "a", "state": "pending"})
        explained = await db.command("explain", {"find": "docs", "filter": {"_id": "a", "state": "pending"}})
        plan = json.dumps(explained.get("queryPlanner", {}), default=str)
        indexed = any(s in plan for s in ("USING INDEX", "IDHACK", "IXSCAN", "EXPRESS"))
        return "_id index used" if indexed else "_id lookups scan"
    finally:
        await client.drop_database(db.name)
        await client.close()


# -- n8n beside kxflow (issue 13) -----------------------------------------------------------------------
def n8n_install() -> subprocess.Popen[bytes] | str | None:
    """Start n8n's npm install into the cache unless it is there: None (installed), the running
    install, or why it cannot run."""
    sys.path.insert(0, str(BENCH))
    import n8n_side

    if n8n_side.installed():
        return None
    print(f"## n8n {n8n_side.N8N_VERSION}: npm install into {n8n_side.CACHE} (background, nice)", flush=True)
    return n8n_side.start_install()


def n8n_ready(install: subprocess.Popen[bytes] | str | None, timeout: float = 3600) -> str:
    """Empty when n8n is installed (waiting for the install if it runs), else why not."""
    import n8n_side

    if isinstance(install, str):
        return install
    if install is not None:
        print("## waiting for the n8n install to finish", flush=True)
        try:
            code = install.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            install.terminate()
            return f"npm install still running after {timeout:.0f}s"
        if code != 0:
            return f"npm install failed (exit {code}; see {n8n_side.CACHE / 'install.log'})"
    return "" if n8n_side.installed() else f"n8n {n8n_side.N8N_VERSION} not found in {n8n_side.CACHE}"


# -- the benchmark scripts ------------------------------------------------------------------------------
def run_script(name: str, args: list[str], env: dict[str, str], out_dir: Path, timeout: float) -> dict:
    path = out_dir / f"{name}.json"
    path.unlink(missing_ok=True)
    cmd = [sys.executable, str(BENCH / f"{name}.py"), *args, "--json", str(path)]
    print(f"## {name}: {' '.join(cmd[1:])}", flush=True)
    t0 = time.monotonic()
    try:
        proc = subprocess.run(cmd, env=env, cwd=ROOT, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:  # one part's time-out must not lose every other figure
        return {"error": f"timed out after {timeout:.0f}s", "seconds": round(time.monotonic() - t0, 1)}
    took = time.monotonic() - t0
    if not path.exists():
        return {"error": f"exit {proc.returncode}, no figures", "seconds": took}
    return {**json.loads(path.read_text()), "exit_code": proc.returncode, "seconds": round(took, 1)}


# -- the table ------------------------------------------------------------------------------------------
def fmt(x: Any, unit: str = "", digits: int = 0) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return f"{x:,.{digits}f}{unit}"


def status(ok: bool | None, why: str = "") -> str:
    if ok is None:
        return "—"
    return "met" if ok else f"**not met**{': ' + why if why else ''}"


def table(r: dict[str, Any]) -> list[list[str]]:
    """Rows: area, measure, figure, floor (same run), target, status."""
    rows: list[list[str]] = []
    kf, mf = r["floors"]["kafka"], r["floors"]["mongo"]
    mongo_floor = f"FerretDB raw insert {fmt(mf['inserts_per_s'], '/s')}"
    rows.append(
        [
            "floor",
            "Kafka produce / consume (1 KiB, acks=all)",
            f"{fmt(kf['produce_per_s'], '/s')} / {fmt(kf['consume_per_s'], '/s')}",
            f"one record: p50 {fmt(kf['single_send_p50_ms'], ' ms', 1)}, "
            f"p99 {fmt(kf['single_send_p99_ms'], ' ms', 1)}",
            "",
            "",
        ]
    )
    rows.append(
        [
            "floor",
            "FerretDB insert_one, 16 in flight",
            fmt(mf["inserts_per_s"], "/s"),
            f"p50 {fmt(mf['p50_ms'], ' ms', 1)}, p99 {fmt(mf['p99_ms'], ' ms', 1)}",
            "",
            "",
        ]
    )
    k = r["services"].get("bench_kartra_intake", {})
    if "webhooks_per_s" in k:
        ok_rate, ok_p99 = k["webhooks_per_s"] >= 2000, k["p99_ms"] < 25
        rows.append(
            [
                "kartra intake (1 process)",
                f"webhooks/s, {k['concurrency']} in flight",
                fmt(k["webhooks_per_s"], "/s"),
                f"raw producer loop {fmt(k['floor_per_s'], ' pairs/s')}",
                "≥ 2,000/s",
                status(ok_rate, f"{k['webhooks_per_s'] / k['floor_per_s']:.0%} of the floor"),
            ]
        )
        rows.append(
            [
                "kartra intake (1 process)",
                "webhook latency p50 / p99",
                f"{fmt(k['p50_ms'], ' ms', 1)} / {fmt(k['p99_ms'], ' ms', 1)}",
                f"floor p99 {fmt(k['floor_p99_ms'], ' ms', 1)}",
                "p99 < 25 ms",
                status(ok_p99),
            ]
        )
    ro = r["services"].get("bench_router", {})
    if "matched_events_per_s" in ro:
        floor = f"consume→produce→commit {fmt(ro['floor']['events_per_s'], '/s')}"
        rows.append(
            [
                "router (1 process)",
                f"non-matching events/s ({ro['zaps']:,} zaps)",
                fmt(ro["nonmatching_events_per_s"], "/s"),
                floor,
                "≥ 10,000/s",
                status(ro["nonmatching_events_per_s"] >= 10_000),
            ]
        )
        rows.append(
            [
                "router (1 process)",
                "matched events/s (run stored, command sent)",
                fmt(ro["matched_events_per_s"], "/s"),
                f"{floor}; {mongo_floor}",
                "≥ 2,000/s",
                status(ro["matched_events_per_s"] >= 2000, "one run insert per event: store-bound"),
            ]
        )
        rows.append(
            [
                "router (1 process)",
                "matched latency p50 / p99 (event → command)",
                f"{fmt(ro['matched_p50_ms'], ' ms')} / {fmt(ro['matched_p99_ms'], ' ms')}",
                f"floor p50 {fmt(ro['floor']['p50_ms'], ' ms')}",
                "",
                "",
            ]
        )
        rows.append(
            [
                "router (1 process)",
                "peak RSS",
                fmt(ro["rss_peak_mb"], " MB"),
                "",
                "< 200 MB",
                status(ro["rss_peak_mb"] < 200),
            ]
        )
    x = r["services"].get("bench_xero_scheduler", {})
    if "actions" in x:
        a, h = x["actions"], x["hydration"]
        rows.append(
            [
                "xero scheduler",
                f"budget use, {x['orgs']} orgs backlogged (clock {x['speed']}×)",
                f"{a['per_org_per_min']:.1f}/min per org = {a['per_org_per_min'] / 60:.1%}; "
                f"429s {a['rate_limited']}",
                f"raw httpx→sandbox {fmt(x['floor']['calls_per_s'], ' calls/s')}",
                "A ≥ 95% of 60/min",
                status(a["min_org_per_min"] / 60 >= 0.95 and a["rate_limited"] == 0),
            ]
        )
        rows.append(
            [
                "xero scheduler",
                "hydration (50-id batches)",
                f"{fmt(h['per_org_per_min'] * x['batch'], '/min')} per org",
                f"theoretical {fmt(60 * x['batch'], '/min')} per org",
                "beside the limit",
                f"{h['per_org_per_min'] / 60:.0%} of the limit",
            ]
        )
        if "actions_shared" in x:
            s = x["actions_shared"]
            rows.append(
                [
                    "xero scheduler",
                    f"budget use, 2 replicas sharing through MongoDB (clock {s['speed']}×)",
                    f"{s['per_org_per_min']:.1f}/min per org = {s['per_org_per_min'] / 60:.1%} "
                    f"(min {s['min_org_per_min']:.1f}); 429s {s['rate_limited']}",
                    "one replica, above",
                    "no 429 (limits kept together)",
                    status(s["rate_limited"] == 0),
                ]
            )
    e = r.get("e2e", {})
    if "throughput_mode" in e:
        t = e["throughput_mode"]
        lim = t["xero_limits"]
        mode = (
            f"throughput mode, Xero limits raised to {lim['per_minute']:,}/min, {lim['concurrent']} in flight"
        )
        f100 = t["fixed_100"]
        for label, ph in (
            ("100 purchases/s", f100),
            (f"{t['max_sustainable_rate']:g}/s (highest sustainable)", t["max_sustainable"]),
        ):
            if not ph:
                rows.append(["end to end", f"latency at {label}", "no stable step", "", "", ""])
                continue
            fx, pl = ph["first_xero_ms"], ph["pipeline_ms"]
            rows.append(
                [
                    "end to end",
                    f"webhook → first Xero call at {label}",
                    f"p50 {fmt(fx['p50'], ' ms')}, p95 {fmt(fx['p95'], ' ms')}, p99 {fmt(fx['p99'], ' ms')}",
                    mode,
                    "",
                    "" if ph is not f100 else status(ph["stable"], ph["why"]),
                ]
            )
            rows.append(
                [
                    "end to end",
                    f"webhook → run finished (3 Xero calls) at {label}",
                    f"p50 {fmt(pl['p50'], ' ms')}, p95 {fmt(pl['p95'], ' ms')}, p99 {fmt(pl['p99'], ' ms')}",
                    f"{ph['finished']}/{ph['accepted']} runs finished",
                    "",
                    "",
                ]
            )
        rows.append(
            [
                "end to end",
                "full-pipeline throughput",
                fmt(t["pipeline_runs_per_s"], " runs/s", 1),
                f"Xero calls {fmt(t['xero_calls_per_s'], '/s', 1)}; {mongo_floor}",
                "",
                "",
            ]
        )
        rows.append(
            [
                "end to end",
                "correctness",
                f"{t['runs_not_succeeded']} runs not succeeded, {t['dlq_records']} dead letters",
                "",
                "0 and 0",
                status(t["runs_not_succeeded"] == 0 and t["dlq_records"] == 0),
            ]
        )
        cpu = t["cpu_percent_fixed_100"]
        rows.append(
            [
                "end to end",
                "CPU during 100/s (% of one core)",
                ", ".join(f"{n} {v:.0f}" for n, v in sorted(cpu.items(), key=lambda kv: -kv[1])),
                "",
                "",
                "",
            ]
        )
        rows.append(
            [
                "end to end",
                "peak RSS per process",
                ", ".join(f"{n} {v:.0f} MB" for n, v in t["peak_rss_mb"].items()),
                "",
                "",
                "",
            ]
        )
    if "cost" in e:
        rows += cost_rows(e["cost"])
    if "real_limits" in e:
        rl = e["real_limits"]
        rows.append(
            [
                "end to end",
                f"Xero budget use, real limits (60/min, clock {rl['clock_speed']:g}×)",
                f"{fmt(rl['calls_per_minute'], '/min', 1)} over {rl['full_minutes']} full minutes = "
                f"{fmt(100 * rl['utilization'], '%', 1)}; 429s {rl['rate_limited_429']}",
                f"{rl['purchases']} purchases as a burst",
                "≥ 95% of 60/min",
                status(
                    rl["utilization"] >= 0.95 and rl["rate_limited_429"] == 0,
                    "the pipeline could not keep the organisation's queue full",
                ),
            ]
        )
    return rows


def _items(figures: dict[str, float], unit: str = "", digits: int = 1) -> str:
    return ", ".join(f"{k} {v:,.{digits}f}{unit}" for k, v in sorted(figures.items(), key=lambda kv: -kv[1]))


def cost_rows(c: dict[str, Any]) -> list[list[str]]:
    """Issue 13's per-purchase cost at a fixed rate on an idle system, targets beside the figures."""
    area = f"per purchase at {c['rate']:g}/s ({c['accepted']} purchases)"
    cpu = c["cpu_ms_per_purchase"]
    kx = {k: v for k, v in cpu.items() if k not in ("kartra-sandbox", "xero-sandbox")}
    sandboxes = {k: v for k, v in cpu.items() if k in ("kartra-sandbox", "xero-sandbox")}
    rows = [
        [
            area,
            "CPU-ms per purchase (net of idle) by process",
            _items(kx, " ms"),
            f"sandboxes apart: {_items(sandboxes, ' ms')}; all kxflow incl. Kafka and the store "
            f"{fmt(c['cpu_ms_kxflow_all'], ' ms', 1)}",
            "three services ≤ 15 ms together",
            f"{fmt(c['cpu_ms_services'], ' ms', 1)}: " + status(c["cpu_ms_services"] <= 15),
        ],
        [
            area,
            "store commands per purchase (total, net of idle)",
            fmt(c["store_commands_per_purchase_total"], "", 1),
            "; ".join(
                f"{s}: {_items(cmds, '', 2)}" for s, cmds in c["store_commands_per_purchase"].items() if cmds
            ),
            "at least halved from the first measurement",
            "first measurement (issue 13)",
        ],
        [
            area,
            "Kafka records per purchase",
            fmt(c["kafka_records_per_purchase_total"], "", 1),
            _items(c["kafka_records_per_purchase"]),
            "",
            "",
        ],
        [
            area,
            "Xero calls per purchase (new buyer)",
            fmt(c["xero_calls_per_purchase"], "", 2),
            _items(c["xero_calls_by_resource"], "", 2),
            "≤ 4.0",
            status(c["xero_calls_per_purchase"] <= 4.0),
        ],
    ]
    for name, h in c["hops_ms"].items():
        target, ok = "", None
        if name.startswith("webhook accepted → first Xero request"):
            target, ok = "p50 ≤ 25 ms, p99 ≤ 60 ms", h["p50"] <= 25 and h["p99"] <= 60
        rows.append(
            [
                area,
                f"hop: {name}",
                f"p50 {fmt(h['p50'], ' ms', 1)}, p99 {fmt(h['p99'], ' ms', 1)}",
                f"{h['n']} purchases",
                target,
                status(ok) if target else "",
            ]
        )
    own, sb = c["own_overhead_ms"], c["sandbox_ms_per_purchase"]
    rows.append(
        [
            area,
            "a 3-step run's own overhead (finished − webhook − time inside the Xero sandbox)",
            f"p50 {fmt(own['p50'], ' ms', 1)}, p99 {fmt(own['p99'], ' ms', 1)}",
            f"inside the sandbox per purchase p50 {fmt(sb['p50'], ' ms', 1)}",
            "p50 ≤ 60 ms",
            status(own["p50"] <= 60),
        ]
    )
    return rows


def _nearest(ladder: list[dict[str, Any]], rate: float, key: str = "target_rate") -> dict[str, Any] | None:
    return min(ladder, key=lambda s: abs(s[key] - rate), default=None)


def side_by_side(r: dict[str, Any]) -> str:
    """kxflow beside n8n from the same run (issue 13), or why n8n is not there."""
    n8n = r.get("n8n")
    if not n8n:
        return ""
    if "skipped" in n8n or "error" in n8n:
        return f"n8n beside kxflow: not measured in this run ({n8n.get('skipped') or n8n.get('error')})."
    t, c = r.get("e2e", {}).get("throughput_mode", {}), r.get("e2e", {}).get("cost", {})
    kx5, n5 = _nearest(t.get("ladder", []), 5.0), _nearest(n8n.get("ladder", []), 5.0, "rate")
    kxb, nb = t.get("max_sustainable"), n8n.get("max_sustainable")
    intake = r["services"].get("bench_kartra_intake", {})

    def lat(step: dict[str, Any] | None, key: str) -> str:
        if not step:
            return "no stable step"
        rate = step.get("target_rate", step.get("rate"))
        return f"at {rate:g}/s: p50 {fmt(step[key]['p50'], ' ms')}, p99 {fmt(step[key]['p99'], ' ms')}"

    rows = [
        [
            "highest sustainable rate",
            fmt(t.get("max_sustainable_rate"), "/s", 1),
            fmt(n8n["max_sustainable_rate"], "/s", 1),
        ],
        [
            "webhook answer p99",
            f"{fmt(intake.get('p99_ms'), ' ms', 1)} (kartra intake bench, "
            f"{intake.get('concurrency', '?')} in flight)",
            f"{fmt((nb or {}).get('answer_ms', {}).get('p99'), ' ms', 1)} (at its highest sustainable rate)",
        ],
        [
            "webhook → last Xero call, near 5/s (kxflow: → run finished)",
            lat(kx5, "pipeline_ms"),
            lat(n5, "last_xero_ms"),
        ],
        [
            "webhook → last Xero call, highest sustainable rate",
            lat(kxb, "pipeline_ms"),
            lat(nb, "last_xero_ms"),
        ],
        [
            f"CPU-ms per purchase at {c.get('rate', 2):g}/s (own processes; sandbox apart)",
            f"{fmt(c.get('cpu_ms_kxflow_all'), ' ms', 1)} (3 services + Kafka + FerretDB, net of idle)",
            f"{fmt(n8n.get('cost', {}).get('cpu_ms_per_purchase'), ' ms', 1)} (n8n + children, net of idle)",
        ],
        [
            "Xero calls per purchase (new buyer)",
            fmt(c.get("xero_calls_per_purchase"), "", 2),
            fmt(n8n.get("cost", {}).get("xero_calls_per_purchase"), "", 2),
        ],
        ["what it guarantees", n8n["guarantees"]["kxflow"], n8n["guarantees"]["n8n"]],
    ]
    head = ["measure (same run, same ladder)", "kxflow", f"n8n {n8n['version']} (legacy expression engine)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(x).replace("|", "/") for x in row) + " |" for row in rows]
    return "kxflow beside n8n (issue 13):\n\n" + "\n".join(lines)


def markdown(rows: list[list[str]]) -> str:
    head = ["area", "measure", "figure", "floor / context (same run)", "target", "status"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(c.replace("|", "/") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def machine_line(m: dict[str, Any]) -> str:
    return (
        f"{m['date']}, commit {m['commit']}: {m['nproc']} CPUs ({m['cpu']}), {m['memory_gb']} GB RAM, "
        f"{m['os']}, Python {m['python']}, Kafka {m['kafka']} (KRaft, one node), FerretDB {m['ferretdb']} "
        f"(SQLite, {m.get('id_lookups', '_id lookups not probed')}); "
        f"load average {m['load_average_start'][0]} at the start, "
        f"{m['load_average_end'][0]} at the end; {m['mode']} run, {m['seconds']:.0f} s"
    )


def update_docs(text: str, path: Path) -> None:
    doc = path.read_text()
    if BEGIN not in doc or END not in doc:
        raise SystemExit(f"{path} has no {BEGIN} … {END} section to replace")
    head, _, rest = doc.partition(BEGIN)
    _, _, tail = rest.partition(END)
    path.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}")
    print(f"updated {path}")


# -- main -----------------------------------------------------------------------------------------------
def plan(smoke: bool, n8n: bool = False) -> list[tuple[str, list[str], float]]:
    """(script, args, timeout s) per benchmark; the full form is sized for < 10 minutes in all
    (n8n beside it, issue 13, adds its ladder; never in the smoke form)."""
    if smoke:
        return [
            ("bench_kartra_intake", ["--smoke"], 180),
            ("bench_router", ["--smoke"], 240),
            ("bench_xero_scheduler", ["--smoke"], 180),
            ("bench_e2e", ["--smoke"], 240),
        ]
    return [
        ("bench_kartra_intake", ["--n", "15000", "--concurrency", "24"], 300),
        ("bench_router", [], 600),
        ("bench_xero_scheduler", ["--orgs", "20", "--minutes", "2"], 600),
        ("bench_e2e", [], 900),
        *([("bench_n8n", [], 1800)] if n8n else []),
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--smoke", action="store_true", help="tiny sizes: proves every part runs")
    p.add_argument("--update-docs", action="store_true", help=f"rewrite the table in {DOC.name}")
    p.add_argument("--docs", type=Path, default=DOC, help="the document --update-docs rewrites")
    p.add_argument("--json", type=Path, default=ROOT / "bench-results" / "latest.json")
    p.add_argument("--only", nargs="*", help="run only these benchmarks (script names)")
    p.add_argument("--no-n8n", action="store_true", help="leave out n8n beside kxflow (issue 13)")
    args = p.parse_args(argv)
    started = time.monotonic()
    with_n8n = not (args.smoke or args.no_n8n or (args.only and "bench_n8n" not in args.only))
    install = n8n_install() if with_n8n else None  # in the background: it can take many minutes
    infra = ensure_infra()
    env = {**os.environ, **infra}
    results: dict[str, Any] = {"machine": machine(), "infra": infra}
    n_kafka, n_mongo = (5_000, 500) if args.smoke else (50_000, 3_000)
    print("## raw floors: Kafka produce/consume, FerretDB insert", flush=True)
    results["floors"] = {
        "kafka": asyncio.run(kafka_floor(infra["KAFKA_BOOTSTRAP_SERVERS"], n_kafka)),
        "mongo": asyncio.run(mongo_floor(infra["MONGODB_URL"], n_mongo)),
    }
    results["machine"]["id_lookups"] = asyncio.run(id_lookups(infra["MONGODB_URL"]))
    out_dir = args.json.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    results["services"] = {}
    if args.no_n8n and not args.smoke:
        results["n8n"] = {"skipped": "--no-n8n"}
    for name, script_args, timeout in plan(args.smoke, with_n8n):
        if args.only and name not in args.only:
            continue
        if name == "bench_n8n":
            why = n8n_ready(install)
            if why:
                print(f"## bench_n8n: skipped: {why}", flush=True)
                results["n8n"] = {"skipped": why}
                continue
        figures = run_script(name, script_args, env, out_dir, timeout)
        if name == "bench_e2e":
            results["e2e"] = figures
        elif name == "bench_n8n":
            results["n8n"] = figures
        else:
            results["services"][name] = figures
    m = results["machine"]
    m["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    m["seconds"] = time.monotonic() - started
    m["mode"] = "smoke" if args.smoke else "full"
    rows = table(results)
    results["table"] = [
        dict(zip(["area", "measure", "figure", "floor", "target", "status"], r, strict=True)) for r in rows
    ]
    args.json.write_text(json.dumps(results, indent=2, default=str))
    text = f"Machine: {machine_line(m)}.\n\n{markdown(rows)}"
    if beside := side_by_side(results):
        text += f"\n\n{beside}"
    print()
    print(text)
    print(f"\nfigures: {args.json}")
    if args.update_docs:
        update_docs(text, args.docs)
    failed = [n for n, f in {**results["services"], "e2e": results.get("e2e", {})}.items() if "error" in f]
    if install is not None and not isinstance(install, str) and install.poll() is None:
        install.terminate()
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
