"""`make run`: the whole of kxflow on this machine, as separate processes.

Brings up Kafka and FerretDB (deploy/local/infra.sh), then the Kartra and Xero sandboxes, the two
gateways and the router, each health-checked, logs in ``logs/``, URLs printed. A process that
dies is started again after a back-off (1 s, doubling to 30 s; reset once it stayed up a minute),
and the terminal says so.
Ctrl-C (or SIGTERM) stops every process it started, in reverse order.

It survives a restart: Kafka and FerretDB keep their data, and the Xero sandbox keeps its
organisations, grants and tokens beside FerretDB's (``$KXFLOW_STATE/sandboxes-<mongo port>/``), so
the Xero connection FerretDB holds still works after ``make run`` → Ctrl-C → ``make run``.

Settings come from the environment and a ``.env`` file at the repo root (see
``deploy/local/example.env``): point the gateways at real Kartra and Xero there and set
``KXFLOW_SANDBOXES=false`` to run without the sandboxes. The process definitions live in
``deploy/local/kxsystem.py`` (shared with the system tests).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kxsystem import (
    CACHE,
    DEFAULT_PORTS,
    DEV_TENANT,
    DEV_TOKEN,
    ROOT,
    Keeper,
    StartError,
    Supervisor,
    read_dotenv,
    services,
)


def infra(command: str) -> dict[str, str]:
    proc = subprocess.run(
        [str(ROOT / "deploy/local/infra.sh"), command], capture_output=True, text=True, check=False
    )
    sys.stderr.write(proc.stderr)
    if proc.returncode != 0:
        raise SystemExit(f"infra.sh {command} failed (exit {proc.returncode})")
    return dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)


def sandbox_state_dir(mongodb_url: str) -> Path:
    """Beside FerretDB's data (infra.sh: ``$KXFLOW_STATE/ferretdb-<port>``), one per FerretDB."""
    port = urlsplit(mongodb_url).port or 27017
    return Path(os.environ.get("KXFLOW_STATE", CACHE / "state")) / f"sandboxes-{port}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--logs", default=str(ROOT / "logs"))
    parser.add_argument("--keep-infra", action="store_true", help="leave Kafka and FerretDB running on exit")
    parser.add_argument(
        "--port-offset", type=int, default=0, help="added to every default port (8010, 8020, …)"
    )
    parser.add_argument(
        "--namespace",
        default="",
        help="topic prefix <ns>. and database suffix _<ns>: a second system beside the default one",
    )
    parser.add_argument(
        "--state-dir",
        default=None,
        help="the sandboxes' state (default: beside FerretDB's, $KXFLOW_STATE/sandboxes-<mongo port>)",
    )
    args = parser.parse_args()

    cfg = {**read_dotenv(ROOT / ".env"), **{k: v for k, v in os.environ.items() if k.startswith("KXFLOW_")}}
    was_up = (
        subprocess.run([str(ROOT / "deploy/local/infra.sh"), "status"], capture_output=True).returncode == 0
    )
    cfg.update(infra("up"))
    logs = Path(args.logs)
    state = Path(args.state_dir) if args.state_dir else sandbox_state_dir(cfg["MONGODB_URL"])
    sup = Supervisor(
        services(
            cfg,
            ports={name: port + args.port_offset for name, port in DEFAULT_PORTS.items()},
            prefix=f"{args.namespace}." if args.namespace else None,
            db_suffix=f"_{args.namespace}" if args.namespace else "",
            state_dir=state,
        ),
        cfg,
        logs,
    )

    def on_signal(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        sup.start(
            on_start=lambda svc, proc, log: print(
                f"  starting {svc.name:<15} pid {proc.pid:<7} log {log}", flush=True
            )
        )
        print("\nkxflow is up:")
        print(f"  Kafka            {cfg['KAFKA_BOOTSTRAP_SERVERS']}")
        print(f"  MongoDB (wire)   {cfg['MONGODB_URL']}")
        for svc in sup.services.values():
            print(f"  {svc.name:<16} {svc.url}" + ("" if svc.sandbox else "   (API docs: /docs)"))
        print(f"\n  admin token: {DEV_TOKEN} (tenant {DEV_TENANT})   logs: {logs}")
        print("  next: make demo      stop: Ctrl-C\n", flush=True)
        keeper = Keeper(sup, say=lambda text: print(text, flush=True))
        while True:
            keeper.tick()
            time.sleep(1)  # supervision interval
    except StartError as exc:
        raise SystemExit(str(exc)) from None
    except KeyboardInterrupt:
        print("\nstopping kxflow…", flush=True)
    finally:
        # A second Ctrl-C (or make forwarding the first) must not cut the shutdown short and leave
        # Kafka and FerretDB running: stopping ignores further interrupts (it is bounded anyway).
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        sup.stop_all()
        if not was_up and not args.keep_infra:
            infra("down")
        print("stopped.", flush=True)


if __name__ == "__main__":
    main()
