"""`make run`: the whole of kxflow on this machine, as separate processes.

Brings up Kafka and FerretDB (deploy/local/infra.sh), then the Kartra and Xero sandboxes, the two
gateways and the router, each health-checked, logs in ``logs/``, URLs printed. Ctrl-C (or SIGTERM)
stops every process it started, in reverse order.

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

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kxsystem import (
    DEV_TENANT,
    DEV_TOKEN,
    ROOT,
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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--logs", default=str(ROOT / "logs"))
    parser.add_argument("--keep-infra", action="store_true", help="leave Kafka and FerretDB running on exit")
    args = parser.parse_args()

    cfg = {**read_dotenv(ROOT / ".env"), **{k: v for k, v in os.environ.items() if k.startswith("KXFLOW_")}}
    was_up = (
        subprocess.run([str(ROOT / "deploy/local/infra.sh"), "status"], capture_output=True).returncode == 0
    )
    cfg.update(infra("up"))
    logs = Path(args.logs)
    sup = Supervisor(services(cfg), cfg, logs)

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
        while not (exited := sup.exited()):
            time.sleep(1)  # supervision interval
        name, code = next(iter(exited.items()))
        raise SystemExit(f"{name} exited with {code}; see {sup.log_path(name)}")
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
