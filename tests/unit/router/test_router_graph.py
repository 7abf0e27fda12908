"""The step graph of DESIGN.md §4.1 (filter, paths, delay, loop, on_error) on the run engine over
in-memory fakes: validation, routing, statuses, command ids by step path, replay exactly once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fakes.router import FakePublisher, FakeRunStore, FakeSchedule, FakeVersions
from typer.testing import CliRunner

from kxflow_contracts.commands import command_id
from kxflow_contracts.envelope import CloudEvent
from kxflow_contracts.results import ActionError, ActionResult, CommandProgress
from kxflow_contracts.runs import RunTransition
from zap_router.adapters.metrics import RouterMetrics
from zap_router.domain.clock import ManualClock
from zap_router.domain.matching import MatchIndex
from zap_router.domain.runs import run_id_for
from zap_router.domain.validation import validate_zap
from zap_router.domain.zaps import ResolvedStep, ZapSpec
from zap_router.engine.active import active_from_record
from zap_router.engine.dryrun import simulate
from zap_router.engine.runner import RunEngine
from zap_router.entrypoints import cli
from zap_router.entrypoints.deps import public_run
from zap_router.testing import demo_catalog, purchase_event

CATALOG = demo_catalog()
CONNECTIONS = {"kartra": {"kartra-main"}, "xero": {"xero-acme-au"}}
TRIGGER = {"app": "kartra", "event": "kartra.product.purchased", "connection": "kartra-main"}
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def tag(step_id: str, tag_value: str = "t", **extra: Any) -> dict[str, Any]:
    return {
        "id": step_id,
        "action": "kartra.lead.tag.assign",
        "input": {"lead_email": "{{ trigger.lead.email }}", "tag": tag_value},
        **extra,
    }


CONTACT = {
    "id": "contact",
    "action": "xero.contact.find_or_create",
    "connection": "xero-acme-au",
    "input": {"Name": "{{ trigger.lead.first_name }}"},
}


def resolve(steps: list[dict[str, Any]]) -> list[ResolvedStep]:
    spec = ZapSpec.model_validate({"name": "g", "trigger": TRIGGER, "steps": steps})
    resolved, problems = validate_zap(spec, CATALOG, CONNECTIONS)
    assert problems == []
    return resolved


def problems_of(steps: list[dict[str, Any]]) -> dict[str, str]:
    spec = ZapSpec.model_validate({"name": "g", "trigger": TRIGGER, "steps": steps})
    return {p.loc: p.msg for p in validate_zap(spec, CATALOG, CONNECTIONS)[1]}


class Rig:
    def __init__(self, steps: list[dict[str, Any]]) -> None:
        record = {
            "zap_id": "z1",
            "tenant": "acme",
            "revision": 1,
            "version": 1,
            "name": "graph",
            "trigger": TRIGGER,
            "filter": None,
            "steps": [s.model_dump() for s in resolve(steps)],
        }
        self.zap = active_from_record(record, CATALOG)
        index = MatchIndex()
        index.upsert(self.zap)
        self.runs, self.schedule, self.publisher = FakeRunStore(), FakeSchedule(), FakePublisher()
        self.clock = ManualClock(T0)
        self.failed: list[str] = []

        async def on_failed(run: dict[str, Any]) -> None:
            self.failed.append(run["_id"])

        self.engine = RunEngine(
            index=index,
            versions=FakeVersions(self.zap),  # type: ignore[arg-type]
            catalog=CATALOG,
            runs=self.runs,  # type: ignore[arg-type]
            schedule=self.schedule,  # type: ignore[arg-type]
            publisher=self.publisher,  # type: ignore[arg-type]
            clock=self.clock,
            metrics=RouterMetrics(),
            ladder=(timedelta(seconds=60),),
            on_run_failed=on_failed,
        )

    async def start(self, event_id: str = "e1", **data: Any) -> dict[str, Any]:
        body = purchase_event(connection_id="kartra-main")
        body.update(data)
        event = CloudEvent(
            id=event_id, source="/k", type="kartra.product.purchased.v1", tenant="acme", time=T0, data=body
        )
        assert await self.engine.on_events([event]) == {}
        return await self.run(event_id)

    async def run(self, event_id: str = "e1") -> dict[str, Any]:
        run = await self.runs.get(run_id_for("z1", event_id))
        assert run is not None
        return run

    def sent(self) -> list[str]:
        """The step paths of every command sent so far, in order."""
        return [cmd.step_id for _, cmd in self.publisher.commands]

    async def complete(self, run: dict[str, Any], path: str, attempt: int = 1, **kw: Any) -> dict[str, Any]:
        kw.setdefault("status", "succeeded")
        kw.setdefault("output", {"ok": path})
        result = ActionResult(
            command_id=run["steps"][path]["command_id"], run_id=run["_id"], step_id=path, **kw
        )
        assert await self.engine.on_results([(result, attempt)]) == {}
        return await self.run(run["trigger_event_id"])


# ----------------------------------------------------------------------------- validation


def test_a_linear_zap_is_still_valid_and_stored_as_before() -> None:
    steps = resolve([CONTACT, tag("tagged")])
    assert [s.model_dump() for s in steps][1] == {
        "id": "tagged",
        "action": "kartra.lead.tag.assign",
        "app": "kartra",
        "connection": "kartra-main",
        "input": {"lead_email": "{{ trigger.lead.email }}", "tag": "t"},
        "on_not_found": "halt",
    }


def test_saving_lists_every_problem_of_the_graph() -> None:
    found = problems_of(
        [
            {"id": "both", "action": "kartra.lead.tag.assign", "delay": {"for": "1m"}},
            {"id": "nothing"},
            {"id": "wait", "delay": {"for": "forever"}},
            {"id": "wait_long", "delay": {"for": "90d"}},
            {
                "id": "route",
                "paths": [
                    {"name": "big", "steps": [tag("big_tag")]},  # no rule
                    {
                        "name": "small",
                        "when": _when("trigger.transaction.amount", "lt", 10),
                        "steps": [tag("st")],
                    },
                    {"name": "other", "fallback": True, "steps": [tag("o1")]},
                    {"name": "other", "fallback": True, "steps": [tag("o2")]},
                ],
            },
            # reads a step that ran only on another path
            tag("after", "{{ steps.st.status }}"),
            {"id": "lines", "loop": {"over": "{{ trigger.items }}"}},  # no sub-steps
            {
                "id": "lines2",
                "loop": {"over": "{{ trigger.items"},
                "steps": [
                    tag("inner", "{{ loop.item.sku }}"),
                    {"id": "deep", "loop": {"over": "x"}, "steps": [tag("d")]},
                ],
            },
            {"id": "only", "filter": _when("steps.later.x", "exists")},
            tag("later", on_error={"steps": [tag("alert", "{{ steps.later.x }}")]}),
            {"id": "odd", "filter": _when("other.x", "exists"), "input": {"a": 1}},
        ]
    )
    expected = {
        "steps[0]": "exactly one of",
        "steps[1]": "exactly one of",
        "steps[2].delay.for": "not a duration",
        "steps[3].delay.for": "at most 31 days",
        "steps[4].paths[0].when": "needs a rule",
        "steps[4].paths[3].name": "duplicate path name",
        "steps[4].paths": "at most one path is the fallback",
        "steps[5].input.tag": "references steps.st, which is not on this step's path",
        "steps[6].steps": "at least one sub-step",
        "steps[7].loop.over": "syntax error",
        "steps[7].steps[1].loop": "loops do not nest",
        "steps[8].filter.any[0].all[0].field": "references steps.later, which does not precede this step",
        "steps[9].on_error.steps[0].input.tag": "references steps.later, which is not on this step's path",
        "steps[10].filter.any[0].all[0].field": "a field starts with",
        "steps[10].input": "only action steps have an input",
    }
    for loc, text in expected.items():
        assert loc in found, (loc, found)
        assert text in found[loc], (loc, found[loc])


def _when(field: str, op: str, value: Any = None) -> dict[str, Any]:
    return {"any": [{"all": [{"field": field, "op": op, "value": value}]}]}


def test_a_step_on_its_own_path_is_readable() -> None:
    assert (
        problems_of(
            [
                CONTACT,
                {
                    "id": "route",
                    "paths": [
                        {
                            "name": "gst",
                            "when": _when("steps.contact.ContactID", "exists"),
                            "steps": [
                                tag("first"),
                                tag("second", "{{ steps.first.status }}{{ steps.contact.ContactID }}"),
                            ],
                        }
                    ],
                },
                {
                    "id": "lines",
                    "loop": {"over": "{{ trigger.items }}"},
                    "steps": [tag("item", "{{ loop.item }}")],
                },
                tag("last", "{{ steps.route.paths }}{{ steps.lines }}"),
            ]
        )
        == {}
    )


# ----------------------------------------------------------------------------- execution

BIG = _when("trigger.transaction.amount", "gte", 100)
PATHS = [
    {
        "id": "route",
        "paths": [
            {"name": "big", "when": BIG, "steps": [tag("vip", "vip")]},
            {
                "name": "any",
                "when": _when("trigger.transaction.currency", "exact", "USD"),
                "steps": [tag("buyer", "buyer")],
            },
            {"name": "other", "fallback": True, "steps": [tag("small", "small")]},
        ],
    }
]


async def test_linear_steps_keep_their_command_ids() -> None:
    rig = Rig([CONTACT, tag("tagged")])
    run = await rig.start()
    assert run["steps"]["contact"]["command_id"] == command_id("z1", "e1", "contact")
    run = await rig.complete(run, "contact")
    assert run["steps"]["tagged"]["command_id"] == command_id("z1", "e1", "tagged")
    assert (await rig.complete(run, "tagged"))["status"] == "succeeded"


async def test_filter_step_ends_the_run_filtered_or_lets_it_continue() -> None:
    rig = Rig([{"id": "only_big", "filter": BIG}, tag("vip")])
    small = await rig.start("e1", transaction={"id": "T", "amount": 5})
    assert small["status"] == "filtered" and small["steps"]["only_big"]["status"] == "filtered"
    assert small["steps"]["only_big"]["conditions"][0]["actual"] == 5
    big = await rig.start("e2", transaction={"id": "T", "amount": 500, "currency": "USD"})
    assert big["status"] == "running" and rig.sent() == ["vip"]


async def test_every_passing_path_runs_in_order_with_path_command_ids() -> None:
    rig = Rig(PATHS)
    run = await rig.start(transaction={"id": "T", "amount": 500, "currency": "USD"})
    assert run["steps"]["route"]["chosen"] == ["big", "any"]
    run = await rig.complete(run, "route/big/vip")
    run = await rig.complete(run, "route/any/buyer")
    assert rig.sent() == ["route/big/vip", "route/any/buyer"]
    assert run["steps"]["route/any/buyer"]["command_id"] == command_id("z1", "e1", "route/any/buyer")
    assert run["status"] == "succeeded"
    assert run["steps"]["route"]["output"] == {"paths": ["big", "any"]}


async def test_the_fallback_runs_only_when_no_path_passed() -> None:
    rig = Rig(PATHS)
    run = await rig.start(transaction={"id": "T", "amount": 5, "currency": "EUR"})  # no path passes
    assert run["steps"]["route"]["chosen"] == ["other"] and rig.sent() == ["route/other/small"], run


async def test_a_filter_inside_a_path_ends_that_path_only() -> None:
    rig = Rig(
        [
            {
                "id": "route",
                "paths": [
                    {
                        "name": "a",
                        "when": _when("trigger.lead.email", "exists"),
                        "steps": [{"id": "no", "filter": BIG}, tag("x")],
                    },
                    {"name": "b", "when": _when("trigger.lead.email", "exists"), "steps": [tag("y")]},
                ],
            }
        ]
    )
    run = await rig.start(transaction={"id": "T", "amount": 5})
    assert rig.sent() == ["route/b/y"]
    assert (await rig.complete(run, "route/b/y"))["status"] == "succeeded"


async def test_loop_runs_its_steps_per_item_capped_by_max_with_outputs_as_a_list() -> None:
    rig = Rig(
        [
            {
                "id": "lines",
                "loop": {"over": "{{ trigger.items }}", "max": 3},
                "steps": [tag("item", "{{ loop.index }}-{{ loop.item.sku }}")],
            },
            tag("summary", "{{ steps.lines | map(attribute='item') | map(attribute='ok') | join(',') }}"),
        ]
    )
    items = [{"sku": f"S{i}"} for i in range(5)]
    run = await rig.start(items=items)
    assert run["steps"]["lines"]["skipped"] == 2
    for i in range(3):
        path = f"lines[{i}]/item"
        assert run["steps"][path]["input"]["tag"] == f"{i}-S{i}"
        assert run["steps"][path]["command_id"] == command_id("z1", "e1", path)
        run = await rig.complete(run, path)
    assert run["steps"]["summary"]["input"]["tag"] == "lines[0]/item,lines[1]/item,lines[2]/item"
    assert rig.sent() == ["lines[0]/item", "lines[1]/item", "lines[2]/item", "summary"]


async def test_a_loop_over_something_else_fails_only_its_run_with_a_reason() -> None:
    rig = Rig([{"id": "lines", "loop": {"over": "{{ trigger.lead.email }}"}, "steps": [tag("item")]}])
    run = await rig.start()
    assert run["status"] == "failed" and run["error"]["code"] == "loop_not_a_list"
    rig = Rig([{"id": "lines", "loop": {"over": "{{ trigger.items }}"}, "steps": [tag("item")]}])
    bomb = await rig.start("e2", items=[{"sku": "x" * 4000}] * 100)  # 400 KB of items
    assert bomb["status"] == "failed" and bomb["error"]["code"] == "loop_too_large"
    assert rig.sent() == []


async def test_on_error_branch_runs_and_the_run_ends_handled_not_counted_as_failed() -> None:
    rig = Rig(
        [tag("risky", on_error={"steps": [tag("alert", "failed: {{ trigger.lead.email }}")]}), tag("after")]
    )
    run = await rig.start()
    error = ActionError(code="invalid_input", message="no such lead", retryable=False)
    run = await rig.complete(run, "risky", status="failed", error=error, output=None)
    assert run["status"] == "running" and rig.sent() == ["risky", "risky/on_error/alert"]
    assert run["steps"]["risky/on_error/alert"]["input"]["tag"] == "failed: ada@example.com"
    run = await rig.complete(run, "risky/on_error/alert")
    assert run["status"] == "handled" and run["error"]["code"] == "invalid_input"
    assert rig.failed == []  # not counted towards auto-disable
    finished = [e for e in rig.publisher.events if e.transition is RunTransition.finished]
    assert [(e.status.value, e.status_detail) for e in finished] == [("halted", "handled")]


async def test_a_step_without_on_error_still_fails_the_run() -> None:
    rig = Rig([tag("risky")])
    run = await rig.start()
    error = ActionError(code="invalid_input", message="no", retryable=False)
    run = await rig.complete(run, "risky", status="failed", error=error, output=None)
    assert run["status"] == "failed" and rig.failed == [run["_id"]]


async def test_delay_waits_durably_and_the_timer_moves_the_run_on() -> None:
    rig = Rig([tag("first"), {"id": "wait", "delay": {"for": "10m"}}, tag("second")])
    run = await rig.start()
    run = await rig.complete(run, "first")
    assert run["status"] == "waiting" and run["current_step"] == "wait"
    assert rig.schedule.items[run["_id"]]["wake_at"] == T0 + timedelta(minutes=10)
    rig.clock.advance(minutes=9)
    assert await rig.engine.tick() == 0
    rig.clock.advance(minutes=1)
    assert await rig.engine.tick() == 1
    run = await rig.run()
    assert run["status"] == "running" and rig.sent() == ["first", "second"]
    assert run["steps"]["wait"]["status"] == "succeeded"
    assert await rig.engine.tick() == 0  # the timer fired once
    assert (await rig.complete(run, "second"))["status"] == "succeeded"


async def test_delay_until_a_time_in_the_past_does_not_wait() -> None:
    rig = Rig([{"id": "wait", "delay": {"until": "{{ trigger.at }}"}}, tag("second")])
    past = await rig.start("e1", at="2020-01-01T00:00:00Z")
    assert past["status"] == "running" and rig.sent() == ["second"]
    later = await rig.start("e2", at="2026-12-02T00:00:00Z")
    assert later["status"] == "waiting"
    assert rig.schedule.items[later["_id"]]["wake_at"] == datetime(2026, 12, 2, tzinfo=UTC)
    bad = await rig.start("e3", at="tomorrow")
    assert bad["status"] == "failed" and bad["error"]["code"] == "invalid_delay"


async def test_delay_after_queue_passes_runs_one_by_one() -> None:
    rig = Rig(
        [{"id": "q", "delay": {"after_queue": "xero-{{ trigger.product.id }}", "for": "2s"}}, tag("go")]
    )
    runs = [await rig.start(f"e{i}") for i in range(3)]
    assert all(r["status"] == "waiting" for r in runs)
    assert await rig.engine.tick() == 1  # the first takes its turn now; the others 2 s and 4 s later
    rig.clock.advance(seconds=2)
    assert await rig.engine.tick() == 1
    rig.clock.advance(seconds=2)
    assert await rig.engine.tick() == 1
    assert len(rig.sent()) == 3


async def test_replay_of_a_failed_loop_resends_only_the_failed_item() -> None:
    rig = Rig(
        [{"id": "lines", "loop": {"over": "{{ trigger.items }}"}, "steps": [tag("item", "{{ loop.item }}")]}]
    )
    run = await rig.start(items=["a", "b", "c"])
    run = await rig.complete(run, "lines[0]/item")
    error = ActionError(code="invalid_input", message="no", retryable=False)
    run = await rig.complete(run, "lines[1]/item", status="failed", error=error, output=None)
    assert run["status"] == "failed" and run["current_step"] == "lines[1]/item"
    replayed = await rig.engine.replay(run["_id"], "acme", rig.zap)
    assert replayed["status"] == "running"
    run = await rig.complete(replayed, "lines[1]/item", attempt=2)
    run = await rig.complete(run, "lines[2]/item")
    assert run["status"] == "succeeded"
    # Every item's command once, and the replayed one under the same command id.
    ids = [cmd.command_id for _, cmd in rig.publisher.commands]
    assert rig.sent() == ["lines[0]/item", "lines[1]/item", "lines[1]/item", "lines[2]/item"]
    assert len(set(ids)) == 3


async def test_a_redelivered_trigger_event_starts_nothing_new() -> None:
    rig = Rig(PATHS)
    await rig.start(transaction={"id": "T", "amount": 500, "currency": "USD"})
    await rig.start(transaction={"id": "T", "amount": 500, "currency": "USD"})
    assert rig.sent() == ["route/big/vip"]


@pytest.mark.parametrize("path", ["route/big/vip", "lines[2]/item", "risky/on_error/alert", "contact"])
def test_step_paths_find_their_step(path: str) -> None:
    rig = Rig(
        [
            CONTACT,
            *PATHS,
            {"id": "lines", "loop": {"over": "{{ trigger.items }}"}, "steps": [tag("item")]},
            tag("risky", on_error={"steps": [tag("alert")]}),
        ]
    )
    assert rig.zap.step(path).id == path.rsplit("/", 1)[-1]
    with pytest.raises(KeyError):
        rig.zap.step(path + "/nope")


# ----------------------------------------------------------------------------- the run tree


async def test_run_tree_nests_branches_iterations_and_error_branches(monkeypatch: pytest.MonkeyPatch) -> None:
    rig = Rig(
        [
            *PATHS,
            {
                "id": "lines",
                "loop": {"over": "{{ trigger.items }}"},
                "steps": [tag("item", "{{ loop.item }}")],
            },
            tag("risky", on_error={"steps": [tag("alert")]}),
        ]
    )
    run = await rig.start(transaction={"id": "T", "amount": 500, "currency": "EUR"}, items=["a", "b"])
    run = await rig.complete(run, "route/big/vip")
    run = await rig.complete(run, "lines[0]/item")
    run = await rig.complete(run, "lines[1]/item")
    error = ActionError(code="invalid_input", message="no", retryable=False)
    run = await rig.complete(run, "risky", status="failed", error=error, output=None)
    run = await rig.complete(run, "risky/on_error/alert")
    public = public_run(run)
    tree = {node["path"]: node for node in public["tree"]}
    assert list(tree) == ["route", "lines", "risky"]
    assert [(c["path"], c["branch"]) for c in tree["route"]["children"]] == [("route/big/vip", "big")]
    assert [(c["index"], c["input"]["tag"]) for c in tree["lines"]["children"]] == [(0, "a"), (1, "b")]
    alert = tree["risky"]["children"][0]
    assert alert["on_error"] is True and alert["status"] == "succeeded"
    assert tree["risky"]["error"]["code"] == "invalid_input"
    assert all("started_at" in c and "duration_ms" in c for c in tree["lines"]["children"])

    monkeypatch.setattr(cli, "call", lambda method, path, **_: json.loads(json.dumps(public, default=str)))
    monkeypatch.setattr(cli, "out", cli.Console(width=160))
    shown = CliRunner().invoke(cli.app, ["run", "show", run["_id"]])
    assert shown.exit_code == 0, shown.output
    for text in ("path big", "item 1", "on error", "alert", "invalid_input", "handled"):
        assert text in shown.output


def test_dry_run_walks_the_graph_with_catalog_examples() -> None:
    rig = Rig(
        [
            *PATHS,
            {"id": "wait", "delay": {"for": "1h"}},
            {
                "id": "lines",
                "loop": {"over": "{{ trigger.items }}"},
                "steps": [tag("item", "{{ loop.item }}")],
            },
            tag("broken", "{{ steps.lines[0].item.missing.deeper }}"),
        ]
    )
    trigger = {**purchase_event(connection_id="kartra-main"), "items": ["a", "b"]}
    report = simulate(rig.zap, "e1", trigger, T0, CATALOG)
    assert [s["id"] for s in report["steps"]] == [
        "route/any/buyer",
        "lines[0]/item",
        "lines[1]/item",
        "broken",
    ]
    assert report["outcome"] == "would_fail" and report["steps"][-1]["error"]["code"] == "template_error"
    assert report["steps"][-2]["input"]["tag"] == "b"


# ----------------------------------------------------------------------------- holding


def progress(run: dict[str, Any], path: str, attempt: int = 1, command: str | None = None) -> CommandProgress:
    return CommandProgress(
        command_id=command or run["steps"][path]["command_id"],
        run_id=run["_id"],
        step_id=path,
        attempt=attempt,
        since=T0,
        detail="waiting for the Xero organisation org-1's API budget",
    )


async def test_a_command_held_for_its_organisations_budget_shows_the_run_holding() -> None:
    rig = Rig([CONTACT, tag("tagged")])
    run = await rig.start()
    await rig.engine.on_progress([progress(run, "contact", attempt=2), progress(run, "contact", command="x")])
    assert (await rig.run())["status"] == "running"  # another attempt's or command's word: stale
    await rig.engine.on_progress([progress(run, "contact")])
    held = await rig.run()
    assert held["status"] == "holding" and held["steps"]["contact"]["holding_since"] == T0
    assert public_run(held)["tree"][0]["status"] == "running"  # the step is still running
    run = await rig.complete(held, "contact")
    assert run["status"] == "running" and rig.sent() == ["contact", "tagged"]
    await rig.engine.on_progress([progress(held, "contact")])  # late: the step has its result
    assert (await rig.run())["status"] == "running"
    await rig.engine.on_progress([progress(run, "tagged")])
    cancelled = await rig.engine.cancel(run["_id"], "acme")
    assert cancelled["status"] == "cancelled"
