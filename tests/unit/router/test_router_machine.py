"""The run state machine (pure) and the run use cases over in-memory fakes: every transition and
the crash points of issue 15, in milliseconds, without Kafka or MongoDB."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fakes.router import Crash, FakePublisher, FakeRunStore, FakeSchedule, FakeVersions

from kxflow_contracts.commands import command_id
from kxflow_contracts.envelope import CloudEvent
from kxflow_contracts.results import ActionError, ActionResult
from kxflow_contracts.runs import RunTransition
from zap_router.adapters.metrics import RouterMetrics
from zap_router.domain import machine
from zap_router.domain.clock import ManualClock
from zap_router.domain.matching import MatchIndex
from zap_router.domain.runs import run_id_for
from zap_router.engine.active import active_from_record
from zap_router.engine.runner import RunEngine
from zap_router.testing import demo_catalog, purchase_event

CATALOG = demo_catalog()
LADDER = (timedelta(seconds=60), timedelta(seconds=300))
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def zap(version: int = 1, tag_input: str = "{{ steps.contact.ContactID }}") -> Any:
    record = {
        "zap_id": "z1",
        "tenant": "acme",
        "revision": version,
        "version": version,
        "enabled": True,
        "name": "two steps",
        "trigger": {"app": "kartra", "event": "kartra.product.purchased", "connection": "kartra-main"},
        "filter": None,
        "steps": [
            {
                "id": "contact",
                "action": "xero.contact.find_or_create",
                "app": "xero",
                "connection": "xero-acme-au",
                "input": {"Name": "{{ trigger.lead.first_name }}"},
            },
            {
                "id": "tag",
                "action": "kartra.lead.tag.assign",
                "app": "kartra",
                "connection": "kartra-main",
                "input": {"lead_email": "{{ trigger.lead.email }}", "tag": tag_input},
            },
        ],
    }
    return active_from_record(record, CATALOG)


class Rig:
    """The engine on fakes, one zap in its index."""

    def __init__(self, active: Any = None) -> None:
        self.zap = active or zap()
        self.index = MatchIndex()
        self.index.upsert(self.zap)
        self.runs, self.schedule, self.publisher = FakeRunStore(), FakeSchedule(), FakePublisher()
        self.clock = ManualClock(T0)
        self.engine = RunEngine(
            index=self.index,
            versions=FakeVersions(self.zap),  # type: ignore[arg-type]
            catalog=CATALOG,
            runs=self.runs,  # type: ignore[arg-type]
            schedule=self.schedule,  # type: ignore[arg-type]
            publisher=self.publisher,  # type: ignore[arg-type]
            clock=self.clock,
            metrics=RouterMetrics(),
            ladder=LADDER,
        )

    async def start(self, event_id: str = "e1", **lead: Any) -> dict[str, Any]:
        data = purchase_event(connection_id="kartra-main")
        data["lead"].update(lead)
        event = CloudEvent(
            id=event_id, source="/k", type="kartra.product.purchased.v1", tenant="acme", time=T0, data=data
        )
        poison = await self.engine.on_events([event])
        assert poison == {}
        run = await self.runs.get(run_id_for("z1", event_id))
        assert run is not None
        return run

    async def result(self, run: dict[str, Any], step: str, attempt: int = 1, **kw: Any) -> dict[int, str]:
        res = ActionResult(
            command_id=command_id("z1", run["trigger_event_id"], step), run_id=run["_id"], step_id=step, **kw
        )
        return await self.engine.on_results([(res, attempt)])


def result(run: dict[str, Any], step: str, **kw: Any) -> ActionResult:
    cid = run["steps"][step]["command_id"] if step in run["steps"] else "other"
    return ActionResult(command_id=cid, run_id=run["_id"], step_id=step, **kw)


def apply(
    run: dict[str, Any], res: ActionResult, attempt: int = 1, active: Any = "default"
) -> machine.Transition:
    return machine.apply_result(
        run,
        res,
        attempt,
        zap() if active == "default" else active,
        now=T0 + timedelta(seconds=2),
        ladder=LADDER,
        deadline=timedelta(days=1),
        catalog=CATALOG,
    )


# ----------------------------------------------------------------------------- pure transitions


async def test_succeeded_step_plans_the_next_one_in_the_same_patch() -> None:
    run = await Rig().start()
    t = apply(run, result(run, "contact", status="succeeded", output={"ContactID": "C-1"}))
    assert t.outcome is machine.Outcome.apply
    assert t.guard == machine.Guard("running", "contact", "running", 1)
    assert t.patch.steps["contact"]["status"] == "succeeded"
    assert t.patch.new_steps["tag"]["input"] == {"lead_email": "ada@example.com", "tag": "C-1"}
    assert t.patch.run["current_step"] == "tag"
    assert [(app, c.step_id) for app, c in t.commands] == [("kartra", "tag")]
    assert [(e.transition, e.step_id, e.step_status) for e, _ in t.events] == [
        (RunTransition.step_done, "contact", "succeeded")
    ]


async def test_last_step_succeeding_ends_the_run() -> None:
    rig = Rig()
    run = await rig.start()
    await rig.result(run, "contact", status="succeeded", output={"ContactID": "C-1"})
    run = await rig.runs.get(run["_id"])
    t = apply(run, result(run, "tag", status="succeeded", output={}))
    assert t.status == "succeeded" and not t.commands
    assert [e.transition for e, _ in t.events] == [RunTransition.step_done, RunTransition.finished]


async def test_next_step_that_cannot_render_fails_the_run_and_sends_nothing() -> None:
    run = await Rig().start()
    broken = zap(tag_input="{{ steps.contact.Missing }}")
    t = apply(run, result(run, "contact", status="succeeded", output={"ContactID": "C-1"}), active=broken)
    assert t.status == "failed" and not t.commands
    assert t.patch.run["error"]["code"] == "template_error"
    assert [(e.step_id, e.step_status) for e, _ in t.events if e.step_id] == [
        ("contact", "succeeded"),
        ("tag", "failed"),
    ]


async def test_retryable_failure_waits_on_the_ladder_with_a_schedule_entry() -> None:
    run = await Rig().start()
    error = ActionError(code="rate_limited", message="429", retryable=True)
    t = apply(run, result(run, "contact", status="failed", error=error))
    assert t.status == "waiting"
    assert t.patch.steps["contact"]["status"] == "waiting"
    assert t.schedule == [
        machine.ScheduleEntry(run["_id"], T0 + timedelta(seconds=62), "retry", "contact", 1)
    ]
    last = apply(run, result(run, "contact", status="failed", error=error), attempt=3)
    assert last.outcome is machine.Outcome.stale  # attempt 3 is not the running attempt (1)


async def test_permanent_failure_not_found_and_a_missing_zap() -> None:
    run = await Rig().start()
    error = ActionError(code="invalid", message="banned", retryable=False)
    failed = apply(run, result(run, "contact", status="failed", error=error))
    assert failed.status == "failed" and failed.patch.run["error"]["code"] == "invalid"
    halted = apply(run, result(run, "contact", status="not_found"))
    assert halted.status == "halted"
    gone = apply(run, result(run, "contact", status="succeeded"), active=None)
    assert gone.status == "failed" and gone.patch.run["error"]["code"] == "zap_missing"


async def test_stale_and_cancelled_inputs_change_nothing() -> None:
    run = await Rig().start()
    other = ActionResult(command_id="not-this-one", run_id=run["_id"], step_id="contact", status="succeeded")
    assert apply(run, other).outcome is machine.Outcome.stale
    assert apply(run, result(run, "nope", status="succeeded")).outcome is machine.Outcome.stale
    cancelled = {**run, "status": "cancelled"}
    assert apply(cancelled, result(run, "contact", status="succeeded")).outcome is machine.Outcome.ignore


async def test_cancel_is_a_guarded_transition_with_a_v1_compatible_event() -> None:
    run = await Rig().start()
    t = machine.cancel(run, "no longer wanted", T0)
    assert isinstance(t, machine.Transition)
    assert t.patch.run["status"] == "cancelled" and t.guard == machine.Guard("running", updated_at=T0)
    ((event, _),) = t.events
    assert (event.status, event.status_detail) == ("halted", "cancelled")
    assert "only running or waiting" in str(machine.cancel({**run, "status": "failed"}, "x", T0))


async def test_unstorable_result_fails_the_step_without_its_output() -> None:
    run = await Rig().start()
    t = machine.unstorable_result(run, "contact", 1, "the integer 2**64 does not fit", T0)
    assert t.patch.steps["contact"]["output"] is None and t.status == "failed"
    assert t.patch.run["error"]["code"] == "run_unstorable"


# ----------------------------------------------------------------------------- use cases on fakes


async def test_a_whole_run_on_fakes() -> None:
    rig = Rig()
    run = await rig.start()
    assert [c.step_id for _, c in rig.publisher.commands] == ["contact"]
    await rig.result(run, "contact", status="succeeded", output={"ContactID": "C-1"})
    await rig.result(run, "tag", status="succeeded", output={})
    assert rig.runs.docs[run["_id"]]["status"] == "succeeded"
    assert [c.step_id for _, c in rig.publisher.commands] == ["contact", "tag"]
    assert len(rig.publisher.event_ids) == len(set(rig.publisher.event_ids)) == 4  # started, 2 done, finished


async def test_redelivered_event_and_result_change_nothing_and_send_nothing_new() -> None:
    rig = Rig()
    run = await rig.start()
    await rig.start()  # the same event again (after a rebalance)
    assert len(rig.runs.docs) == 1 and len(rig.publisher.commands) == 1
    await rig.result(run, "contact", status="succeeded", output={"ContactID": "C-1"})
    await rig.result(run, "contact", status="succeeded", output={"ContactID": "C-1"})  # redelivered
    assert [c.step_id for _, c in rig.publisher.commands] == ["contact", "tag"]
    assert rig.schedule.items[run["_id"]]["kind"] == "check"  # the next step is watched in case it was lost


async def test_crash_between_the_run_write_and_the_command_publish() -> None:
    """The write is in, the next command never left: the redelivered result finds the step
    applied, so the run is put on the schedule and the check re-sends the same command id."""
    rig = Rig()
    run = await rig.start()
    rig.publisher.crash_on_commands = True
    with pytest.raises(Crash):
        await rig.result(run, "contact", status="succeeded", output={"ContactID": "C-1"})
    rig.publisher.crash_on_commands = False
    assert rig.runs.docs[run["_id"]]["current_step"] == "tag"
    await rig.result(run, "contact", status="succeeded", output={"ContactID": "C-1"})  # redelivered
    rig.clock.advance(timedelta(minutes=16).total_seconds())
    assert await rig.engine.tick() == 1
    sent = [c for _, c in rig.publisher.commands if c.step_id == "tag"]
    assert [c.command_id for c in sent] == [command_id("z1", "e1", "tag")]


async def test_crash_between_the_lifecycle_events_and_the_result_write() -> None:
    """Events are published before the write: a crash in between makes the redelivered result
    apply once and publish the same event ids again (runs.v1 consumers dedupe by ce_id)."""
    rig = Rig()
    run = await rig.start()
    rig.runs.crash_before_write = True
    with pytest.raises(Crash):
        await rig.result(run, "contact", status="succeeded", output={"ContactID": "C-1"})
    first = list(rig.publisher.event_ids)
    rig.runs.crash_before_write = False
    await rig.result(run, "contact", status="succeeded", output={"ContactID": "C-1"})
    assert rig.publisher.event_ids[len(first) :] == first[1:]  # the same step_done again, same id
    assert [c.step_id for _, c in rig.publisher.commands] == ["contact", "tag"]


async def test_replay_after_an_edit_uses_the_new_version_and_the_same_command_id() -> None:
    rig = Rig()
    run = await rig.start()
    error = ActionError(code="invalid", message="bad name", retryable=False)
    await rig.result(run, "contact", status="failed", error=error)
    assert rig.runs.docs[run["_id"]]["status"] == "failed"
    edited = zap(version=2)
    edited.steps[0].input["Name"] = "Fixed {{ trigger.lead.first_name }}"
    rig.engine.versions = FakeVersions(edited)  # type: ignore[assignment]
    replayed = await rig.engine.replay(run["_id"], "acme", edited)
    assert replayed["status"] == "running" and replayed["zap_version"] == 2
    again = rig.publisher.commands[-1][1]
    assert (again.command_id, again.attempt, again.input["Name"]) == (
        command_id("z1", "e1", "contact"),
        2,
        "Fixed Ada",
    )
    await rig.result(run, "contact", attempt=2, status="succeeded", output={"ContactID": "C-2"})
    assert rig.runs.docs[run["_id"]]["current_step"] == "tag"


async def test_a_result_the_store_cannot_hold_fails_the_run_and_the_batch_goes_on() -> None:
    rig = Rig()
    run = await rig.start()
    poison = await rig.result(run, "contact", status="succeeded", output={"n": 2**64})
    assert poison == {}
    doc = rig.runs.docs[run["_id"]]
    assert doc["status"] == "failed" and doc["error"]["code"] == "run_unstorable"
    assert [c.step_id for _, c in rig.publisher.commands] == ["contact"]


async def test_a_trigger_the_store_cannot_hold_is_a_failed_run_not_a_stuck_batch() -> None:
    rig = Rig()
    run = await rig.start("e-big", first_name="Ada", n=18446744073709551616)
    assert run["status"] == "failed" and run["error"]["code"] == "run_unstorable"
    assert "64 bits" in run["error"]["message"]
    assert "lead" not in run["trigger"]  # the data at fault is left in the trigger topic
    assert rig.publisher.commands == []


async def test_cancel_drops_a_waiting_retry_and_ignores_a_late_result() -> None:
    rig = Rig()
    run = await rig.start()
    error = ActionError(code="rate_limited", message="429", retryable=True)
    await rig.result(run, "contact", status="failed", error=error)
    cancelled = await rig.engine.cancel(run["_id"], "acme")
    assert cancelled["status"] == "cancelled"
    rig.clock.advance(3600)
    assert await rig.engine.tick() == 0
    await rig.result(run, "contact", status="succeeded", output={"ContactID": "C-1"})
    assert rig.runs.docs[run["_id"]]["status"] == "cancelled"
