"""``zapctl``: the router's admin API from a terminal (typer + rich).

Reads ``ZAPCTL_URL`` (default ``http://127.0.0.1:8010``) and ``ZAPCTL_TOKEN`` (bearer token of
one tenant). Every command exits non-zero with the API's own explanation when something is wrong.
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import httpx
import typer
import yaml
from rich.console import Console
from rich.progress import Progress
from rich.syntax import Syntax
from rich.table import Table
from rich.tree import Tree

from kxflow_contracts.runtime.polite_http import PoliteTransport

app = typer.Typer(help="Manage kxflow zaps and runs.", no_args_is_help=True, pretty_exceptions_enable=False)
run_app = typer.Typer(help="Inspect one run.", no_args_is_help=True)
app.add_typer(run_app, name="run")
draft_app = typer.Typer(
    help="Edit a zap without going live: show, diff, publish, discard its draft.", no_args_is_help=True
)
app.add_typer(draft_app, name="draft")
out = Console()
err = Console(stderr=True)

# Typer's formats plus an explicit offset (2026-11-20T09:30:00+10:00); times without one are UTC.
TIMES = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S%z"]
FileOpt = Annotated[Path, typer.Option("-f", "--file", exists=True, dir_okay=False, help="Zap YAML")]
Output = Annotated[str, typer.Option("-o", "--output", help="table, yaml or json")]


def fail(message: str) -> NoReturn:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(1)


def client() -> httpx.Client:
    url = os.environ.get("ZAPCTL_URL", "http://127.0.0.1:8010")
    token = os.environ.get("ZAPCTL_TOKEN", "")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=url, headers=headers, timeout=60, transport=PoliteTransport())


def call(method: str, path: str, **kwargs: Any) -> Any:
    try:
        with client() as http:
            response = http.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        fail(f"cannot reach the router at {os.environ.get('ZAPCTL_URL', 'http://127.0.0.1:8010')}: {exc}")
    if response.status_code == 401:
        fail("not authorised: set ZAPCTL_TOKEN to a valid API token")
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        if isinstance(detail, list):
            err.print(f"[red]error:[/red] {response.status_code}: {len(detail)} problem(s)")
            for problem in detail:
                loc = problem.get("loc")
                loc = ".".join(map(str, loc)) if isinstance(loc, list) else loc
                err.print(f"  • [bold]{loc}[/bold]: {problem.get('msg')}")
            raise typer.Exit(1)
        fail(f"{response.status_code}: {detail}")
    return response.json() if response.content else None


def load_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        fail(f"{path} is not valid YAML: {exc}")
    if not isinstance(data, dict):
        fail(f"{path} must hold one zap (a mapping)")
    return data


def show(data: Any, output: str) -> None:
    if output == "json":
        out.print_json(json.dumps(data, default=str))
    else:
        out.print(Syntax(yaml.safe_dump(json.loads(json.dumps(data, default=str)), sort_keys=False), "yaml"))


@app.command()
def apply(
    file: FileOpt,
    zap_id: Annotated[str | None, typer.Option("--id")] = None,
    draft: Annotated[bool, typer.Option("--draft", help="Save as the zap's draft; publish later")] = False,
) -> None:
    """Create a zap from YAML, or save a new version of the zap with the same name (or --id);
    with --draft, save the changes as the zap's draft instead of publishing them."""
    spec = load_yaml(file)
    zap_id = zap_id or spec.pop("id", None)
    if zap_id is None:
        same = [z for z in call("GET", "/v1/zaps")["items"] if z["name"] == spec.get("name")]
        if len(same) > 1:
            fail(f"{len(same)} zaps are named {spec.get('name')!r}; pass --id")
        zap_id = same[0]["id"] if same else None
    if draft:
        if zap_id is None:
            fail("a draft belongs to an existing zap: create it first (without --draft) or pass --id")
        spec.pop("enabled", None)
        saved = call("PUT", f"/v1/zaps/{zap_id}/draft", json=spec)
        out.print(f"[green]draft saved[/green] for {zap_id} (based on version {saved['base_version']})")
        return
    if zap_id is None:
        zap = call("POST", "/v1/zaps", json=spec)
        out.print(f"[green]created[/green] {zap['id']} (version {zap['version']}, enabled={zap['enabled']})")
    else:
        spec.pop("enabled", None)
        zap = call("PUT", f"/v1/zaps/{zap_id}", json=spec)
        out.print(f"[green]updated[/green] {zap['id']} → version {zap['version']}")


@draft_app.command("show")
def draft_show(zap_id: str, output: Output = "yaml") -> None:
    """Show the zap's draft."""
    show(call("GET", f"/v1/zaps/{zap_id}/draft"), output)


@draft_app.command("diff")
def draft_diff(zap_id: str, output: Output = "text") -> None:
    """What the draft changes against the published version (-o json for the structured form)."""
    diff = call("GET", f"/v1/zaps/{zap_id}/draft/diff")
    if output != "text":
        show(diff, output)
        return
    if diff["stale"]:
        err.print(
            f"[yellow]note:[/yellow] the draft began from version {diff['base_version']}; "
            f"version {diff['published_version']} is published now"
        )
    if not diff["changes"]:
        out.print("the draft is the same as the published version")
        return
    out.print(Syntax(diff["unified"], "diff"))


@draft_app.command("publish")
def draft_publish(
    zap_id: str,
    force: Annotated[
        bool, typer.Option(help="Publish even if another version was published meanwhile")
    ] = False,
) -> None:
    """Publish the draft as the zap's next version (runs already started keep their version)."""
    zap = call("POST", f"/v1/zaps/{zap_id}/draft/publish", json={"force": force})
    out.print(f"[green]published[/green] {zap['id']} → version {zap['version']}")


@draft_app.command("discard")
def draft_discard(zap_id: str) -> None:
    """Throw the draft away (the published version is untouched)."""
    call("DELETE", f"/v1/zaps/{zap_id}/draft")
    out.print(f"discarded the draft of {zap_id}")


@app.command("list")
def list_zaps() -> None:
    """List the tenant's zaps."""
    table = Table("ID", "NAME", "VERSION", "ENABLED", "UPDATED")
    for zap in call("GET", "/v1/zaps")["items"]:
        enabled = "yes" if zap["enabled"] else f"no {zap.get('disabled_reason') or ''}".strip()
        version = f"{zap['version']}{' +draft' if zap.get('has_draft') else ''}"
        table.add_row(zap["id"], zap["name"], version, enabled, str(zap["updated_at"])[:19])
    out.print(table)


@app.command()
def get(
    zap_id: str,
    version: Annotated[int | None, typer.Option(help="An older version")] = None,
    output: Output = "yaml",
) -> None:
    """Show a zap (its current version unless --version)."""
    params = {"version": version} if version else None
    show(call("GET", f"/v1/zaps/{zap_id}", params=params), output)


@app.command()
def enable(zap_id: str) -> None:
    """Turn a zap on."""
    call("POST", f"/v1/zaps/{zap_id}/enable")
    out.print(f"[green]enabled[/green] {zap_id}")


@app.command()
def disable(zap_id: str) -> None:
    """Turn a zap off."""
    call("POST", f"/v1/zaps/{zap_id}/disable")
    out.print(f"[yellow]disabled[/yellow] {zap_id}")


@app.command()
def delete(zap_id: str, yes: Annotated[bool, typer.Option("--yes", "-y")] = False) -> None:
    """Delete a zap (its runs are kept)."""
    if not yes:
        typer.confirm(f"delete zap {zap_id}?", abort=True)
    call("DELETE", f"/v1/zaps/{zap_id}")
    out.print(f"deleted {zap_id}")


@app.command()
def runs(
    zap: Annotated[str | None, typer.Option("--zap")] = None,
    status: Annotated[str | None, typer.Option("--status")] = None,
    since: Annotated[datetime | None, typer.Option()] = None,
    until: Annotated[datetime | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    cursor: Annotated[str | None, typer.Option(help="From a previous page")] = None,
) -> None:
    """Run history, newest first."""
    params = {
        "zap_id": zap,
        "status": status,
        "since": since,
        "until": until,
        "limit": limit,
        "cursor": cursor,
    }
    page = call("GET", "/v1/runs", params={k: str(v) for k, v in params.items() if v is not None})
    table = Table("RUN", "ZAP", "V", "STATUS", "STEP", "CREATED", "ERROR")
    colours = {
        "succeeded": "green",
        "failed": "red",
        "halted": "yellow",
        "filtered": "dim",
        "cancelled": "dim",
    }
    for run in page["items"]:
        colour = colours.get(run["status"], "cyan")
        error = (run.get("error") or {}).get("message", "")
        table.add_row(
            run["id"],
            run["zap_id"],
            str(run["zap_version"]),
            f"[{colour}]{run['status']}[/{colour}]",
            run.get("current_step") or "",
            str(run["created_at"])[:19],
            error[:60],
        )
    out.print(table)
    if page.get("next_cursor"):
        out.print(f"more: --cursor {page['next_cursor']}")


def _branch(tree: Tree, label: str, value: Any) -> None:
    if value in (None, {}, []):
        return
    text = yaml.safe_dump(json.loads(json.dumps(value, default=str)), sort_keys=False).rstrip()
    tree.add(f"[bold]{label}[/bold]").add(Syntax(text, "yaml"))


def _node(parent: Tree, node: dict[str, Any]) -> None:
    """One step of a run's tree with its input, output and error, then the steps nested in it."""
    where = ""
    if "branch" in node:
        where = f"[cyan]path {node['branch']}[/cyan] "
    elif "index" in node:
        where = f"[cyan]item {node['index']}[/cyan] "
    elif node.get("on_error"):
        where = "[yellow]on error[/yellow] "
    what = node.get("action") or node.get("kind") or ""
    attempt = f"  attempt {node['attempt']}" if node.get("attempt") else ""
    branch = parent.add(
        f"{where}[bold]{node['id']}[/bold] {what} → {node.get('status')}{attempt}"
        f"  {node.get('duration_ms') or 0:.0f} ms"
    )
    for label in ("input", "output", "error", "chosen", "next_attempt_at"):
        _branch(branch, label, node.get(label))
    for child in node.get("children", []):
        _node(branch, child)


@run_app.command("show")
def run_show(run_id: str) -> None:
    """A run with every step: input, output, error, attempts and timings."""
    run = call("GET", f"/v1/runs/{run_id}")
    tree = Tree(f"[bold]{run['id']}[/bold]  {run['status']}  zap {run['zap_id']} v{run['zap_version']}")
    trigger = tree.add(f"trigger {run['trigger_type']}  event {run['trigger_event_id']}")
    _branch(trigger, "data", run.get("trigger"))
    if run.get("filter"):
        _branch(tree, "filter", run["filter"])
    reached = {node["path"] for node in run.get("tree", [])}
    for node in run.get("tree", []):
        _node(tree, node)
    for step_id in run.get("step_order", []):
        if step_id not in reached:
            tree.add(f"[dim]{step_id}: not reached[/dim]")
    out.print(tree)


@app.command()
def replay(
    run_id: Annotated[str | None, typer.Argument(help="One run; or use --zap for bulk")] = None,
    zap: Annotated[str | None, typer.Option("--zap", help="Replay the zap's failed runs")] = None,
    since: Annotated[datetime | None, typer.Option()] = None,
    until: Annotated[datetime | None, typer.Option()] = None,
    status: Annotated[str, typer.Option(help="failed or halted")] = "failed",
) -> None:
    """Re-run failed runs from their failed step (succeeded steps are not repeated)."""
    if run_id:
        run = call("POST", f"/v1/runs/{run_id}/replay")
        out.print(f"replaying {run['id']} from step {run['current_step']} (now {run['status']})")
        return
    if not zap:
        fail("give a run id, or --zap for bulk replay")
    ids: list[str] = []
    cursor = None
    while True:
        params = {
            "zap_id": zap,
            "status": status,
            "limit": "500",
            "since": since,
            "until": until,
            "cursor": cursor,
        }
        page = call("GET", "/v1/runs", params={k: str(v) for k, v in params.items() if v is not None})
        ids += [r["id"] for r in page["items"]]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    done, refused = 0, []
    with client() as http, Progress(console=err) as progress:
        task = progress.add_task(f"replaying {len(ids)} runs", total=len(ids))
        for rid in ids:
            response = http.post(f"/v1/runs/{rid}/replay")
            if response.status_code == 200:
                done += 1
            else:
                refused.append((rid, response.json().get("detail", response.text)))
            progress.advance(task)
    out.print(f"replayed {done} run(s)")
    for rid, why in refused:
        err.print(f"  [yellow]skipped[/yellow] {rid}: {why}")


@app.command()
def cancel(
    run_id: Annotated[
        str | None, typer.Argument(help="One run; or use --zap/--status/--since for many")
    ] = None,
    zap: Annotated[str | None, typer.Option("--zap", help="Cancel the zap's running/waiting runs")] = None,
    status: Annotated[str | None, typer.Option(help="running or waiting (default: both)")] = None,
    since: Annotated[datetime | None, typer.Option()] = None,
    until: Annotated[datetime | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 1000,
) -> None:
    """Cancel a running or waiting run, or many by query (commands already sent still finish)."""
    if run_id:
        run = call("POST", f"/v1/runs/{run_id}/cancel")
        out.print(f"{run['id']} is {run['status']}")
        return
    if not (zap or status or since or until):
        fail("give a run id, or narrow the runs to cancel with --zap, --status, --since or --until")
    body = {"zap_id": zap, "status": status, "since": since, "until": until, "limit": limit}
    outcome = call("POST", "/v1/runs/cancel", json=json.loads(json.dumps(body, default=str)))
    out.print(f"cancelled {outcome['cancelled']} run(s); {outcome['skipped']} finished meanwhile")


@app.command("dry-run")
def dry_run(
    file: FileOpt,
    since: Annotated[datetime | None, typer.Option()] = None,
    until: Annotated[datetime | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
    output: Output = "table",
) -> None:
    """Evaluate a draft zap over past trigger events; nothing is sent."""
    body = {"spec": load_yaml(file), "limit": limit}
    body["spec"].pop("id", None)
    body["spec"].pop("enabled", None)
    if since:
        body["since"] = since.isoformat()
    if until:
        body["until"] = until.isoformat()
    with err.status("reading past events…"):
        report = call("POST", "/v1/zaps/dry-run", json=body)
    if output != "table":
        show(report, output)
        return
    out.print(
        f"{report['events_read']} event(s): {report['would_run']} would run, {report['filtered']} filtered, "
        f"{report['would_fail']} would fail, {report['params_mismatch']} other parameters"
    )
    for item in report["events"]:
        tree = Tree(f"{item['event_id']}  {item['outcome']}")
        for step in item["steps"]:
            _branch(tree, f"{step['id']} {step['action']}", step["error"] or step["input"])
        out.print(tree)


@app.command("test-step")
def test_step(
    zap_id: str,
    step: Annotated[str, typer.Argument(help="The step's path: invoice, route/gst/invoice, lines[0]/item")],
    event: Annotated[
        str | None, typer.Option("--event", help="A past trigger event id (default: latest)")
    ] = None,
    published: Annotated[bool, typer.Option("--published", help="Test the published version")] = False,
    execute: Annotated[bool, typer.Option("--execute", help="Send it for real (a real write)")] = False,
    outputs: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="YAML: earlier steps' outputs by step id")
    ] = None,
    output: Output = "tree",
) -> None:
    """Render one step of the zap's draft (or published version) against a past trigger event and
    show the input it would send; with --execute, send it and show the result."""
    body: dict[str, Any] = {"step": step, "execute": execute}
    if event:
        body["event_id"] = event
    if published:
        body["source"] = "published"
    if outputs:
        body["outputs"] = load_yaml(outputs)
    with err.status("executing…" if execute else "rendering…"):
        shown = call("POST", f"/v1/zaps/{zap_id}/test-step", json=body)
    if output != "tree":
        show(shown, output)
        return
    version = "draft" if shown["source"] == "draft" else f"v{shown['version']}"
    tree = Tree(f"[bold]{shown['step']}[/bold] {shown['action']} ({version})  → {shown['status']}")
    tree.add(f"event {shown['event']['id']}  {shown['event']['time']}")
    sources = ", ".join(f"{k}: {v}" for k, v in shown["outputs_from"].items())
    if sources:
        tree.add(f"other steps' outputs from {sources}")
    _branch(tree, "input", shown["input"])
    _branch(tree, "error", shown["error"])
    if shown["result"]:
        _branch(tree, "output", shown["result"].get("output"))
        _branch(tree, "result error", shown["result"].get("error"))
    elif shown["executed"]:
        tree.add(f"no result yet: GET /v1/zaps/{zap_id}/test-step/{shown['test_id']}")
    out.print(tree)
    if shown["status"] == "failed":
        raise typer.Exit(1)


@app.command()
def catchup(
    zap: Annotated[str, typer.Option("--zap", help="The zap to run over past events")],
    since: Annotated[
        datetime | None,
        typer.Option(
            help="Window start, UTC unless an offset is given (required unless --follow)", formats=TIMES
        ),
    ] = None,
    until: Annotated[datetime | None, typer.Option(help="Window end (default: now)", formats=TIMES)] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would start; start nothing")] = False,
    follow: Annotated[str | None, typer.Option(help="Watch a catch-up already started (its id)")] = None,
    wait: Annotated[
        bool, typer.Option(help="Watch until it ends (--no-wait: print its id and return)")
    ] = True,
    output: Output = "table",
) -> None:
    """Run a zap's published version over a past window of its trigger topic; events that already
    have a run of the zap are skipped. Shows a progress bar, then the summary."""
    if follow:
        job = call("GET", f"/v1/zaps/{zap}/catchups/{follow}")
    else:
        if since is None:
            fail("give --since (or --follow ID)")
        body = {"since": since.isoformat(), "dry_run": dry_run}
        if until:
            body["until"] = until.isoformat()
        job = call("POST", f"/v1/zaps/{zap}/catchups", json=body)
    if not wait:
        out.print(
            f"catch-up {job['id']} started; follow it with: zapctl catchup --zap {zap} --follow {job['id']}"
        )
        return
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task(f"catch-up {job['id']}", total=job["total"] or None)
        while job["status"] == "running":
            c = job["counts"]
            progress.update(
                task,
                total=job["total"] or None,
                completed=job["position"],
                description=f"scanned {c['scanned']} · started {c['started']} · skipped {c['skipped']}",
            )
            time.sleep(0.5)  # polling interval of a progress display
            job = call("GET", f"/v1/zaps/{zap}/catchups/{job['id']}")
    if output != "table":
        show(job, output)
    else:
        word = "would start" if job["dry_run"] else "started"
        table = Table("STATUS", "SCANNED", word.upper(), "SKIPPED", "FILTERED", "FAILED", "IGNORED")
        c = job["counts"]
        table.add_row(
            job["status"],
            *(str(c[k]) for k in ("scanned", "started", "skipped", "filtered", "failed", "ignored")),
        )
        out.print(f"catch-up {job['id']} of zap {zap} v{job['zap_version']}: {job['since']} → {job['until']}")
        out.print(table)
        for problem in job["problems"]:
            err.print(f"  [red]failed[/red] {problem['event_id']}: {problem['reason']}")
    if job["status"] not in ("succeeded", "cancelled"):
        fail(f"catch-up {job['status']}: {job.get('error') or 'see the router logs'}")


@app.command()
def catalog(
    app_name: Annotated[str | None, typer.Option("--app")] = None,
    kind: Annotated[str | None, typer.Option(help="trigger, action or search")] = None,
) -> None:
    """Every trigger, action and search kxflow offers."""
    params = {k: v for k, v in {"app": app_name, "kind": kind}.items() if v}
    table, needed = catalog_table(call("GET", "/v1/catalog", params=params)["items"])
    out.print(table, width=max(out.width, needed))


# Room the NAME and AVAILABLE columns keep at least (they wrap) when the terminal is narrow.
_WRAPPED_MIN = 12


def catalog_table(items: list[dict[str, Any]]) -> tuple[Table, int]:
    """The catalog as a table whose KEY and KIND are never cut (the key is what a user copies),
    and the width it needs at least.

    KEY and KIND do not wrap; NAME and AVAILABLE fold into what is left. A terminal narrower than
    the width needed gets a table wider than itself (the terminal wraps the line) rather than a cut
    key.
    """
    key_w = max([len("KEY"), *(len(e["key"]) for e in items)])
    kind_w = max([len("KIND"), *(len(e["kind"]) for e in items)])
    table = Table()
    table.add_column("KEY", no_wrap=True, min_width=key_w)
    table.add_column("KIND", no_wrap=True, min_width=kind_w)
    table.add_column("NAME", overflow="fold", min_width=_WRAPPED_MIN)
    table.add_column("AVAILABLE", overflow="fold", min_width=_WRAPPED_MIN)
    for entry in items:
        available = "yes" if entry["available"] else f"no: {entry.get('unavailable_reason')}"
        table.add_row(entry["key"], entry["kind"], entry["display_name"], available)
    # 4 columns: 5 rules, and 1 cell of padding on each side of each column.
    return table, key_w + kind_w + 2 * _WRAPPED_MIN + 5 + 4 * 2


if __name__ == "__main__":
    app()
