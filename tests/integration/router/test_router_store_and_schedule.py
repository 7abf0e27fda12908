"""Run writes, the redispatch of lost sends and retention, on real Kafka and MongoDB/FerretDB.

- a batch of events is stored chunk by chunk (one ``insert_many`` each) and a redelivered batch
  creates nothing new;
- the compare-and-set holds whether it is made in the update filter (MongoDB) or on the document
  just read with a write by ``_id`` (FerretDB);
- a step that may never have been sent is re-sent only once every result already in the results
  topic has been applied (a result waiting in a backlog is not a lost command);
- finished runs are deleted after the retention period, nothing else is.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from pymongo import AsyncMongoClient
from router_harness import ACME, publish_events, read_all, trigger_event
from waiting import wait_for

from zap_router.adapters.results_progress import KafkaResultsProgress
from zap_router.adapters.run_store import RunStore
from zap_router.domain.runs import run_id_for
from zap_router.testing import purchase_event

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]

TAG = {
    "name": "tag buyers",
    "trigger": {"app": "kartra", "event": "kartra.product.purchased", "connection": "kartra-main"},
    "steps": [
        {
            "id": "tag",
            "action": "kartra.lead.tag.assign",
            "input": {"lead_email": "{{ trigger.lead.email }}", "tag": "buyer"},
        }
    ],
}


async def create_zap(router) -> str:
    response = await router.http.post("/v1/zaps", json=TAG, headers=ACME)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def event(event_id: str):
    return trigger_event(event_id, "acme", purchase_event(connection_id="kartra-main"))


class Progress:
    """Stands in for the results topic's progress: caught up or not, as the test says."""

    def __init__(self, caught_up: bool) -> None:
        self.caught_up_now = caught_up

    async def end_offsets(self) -> dict[int, int]:
        return {0: 10}

    async def caught_up(self, snapshot: dict[int, int]) -> bool:
        return self.caught_up_now


async def test_a_batch_is_stored_in_chunks_once_and_a_redelivered_batch_creates_nothing(router):
    zap_id = await create_zap(router)
    engine = router.services.engine
    engine.chunk = 10  # 35 events: four chunks, two of them stored at once
    ids = [f"evt-{i}" for i in range(30)] + [f"evt-{i}" for i in range(5)]  # 5 twice in the batch
    await engine.on_events([event(i) for i in ids])

    await wait_for(lambda: len(router.gateway.commands()) >= 30, timeout=30, message="30 commands")
    assert sorted(c.run_id for c in router.gateway.commands()) == sorted(
        run_id_for(zap_id, f"evt-{i}") for i in range(30)
    )
    assert await router.services.runs.count({"zap_id": zap_id}) == 30

    await engine.on_events([event(i) for i in ids])  # the same batch again (after a rebalance)
    assert await router.services.runs.count({"zap_id": zap_id}) == 30
    # Each redelivered run is watched in case its command was lost; none is sent again now.
    assert await engine.schedule.get(run_id_for(zap_id, "evt-7")) is not None
    assert len(router.gateway.commands()) == 30
    # Its lifecycle events may never have left either (a crash between insert and publish): they
    # are published again with the same ce_ids, so a consumer deduping by ce_id sees each once.
    topics = router.services.settings.topics
    records = await read_all(router.services.settings.kafka_bootstrap_servers, topics.runs, expect=60)
    headers = [{k: v.decode() for k, v in r.headers} for r in records]
    started = [h["ce_id"] for h in headers if h["ce_type"] == "kxflow.run.started.v1"]
    assert len(started) == 60 and len(set(started)) == 30, (len(started), len(set(started)))


async def test_a_lost_send_is_sent_again_only_once_results_are_applied(router):
    """No result comes (no responder): after a redelivery the step is re-sent, same command id."""
    zap_id = await create_zap(router)
    engine = router.services.engine
    real = engine.progress
    topics = router.services.settings.topics
    kafka = router.services.settings.kafka_bootstrap_servers
    await publish_events(kafka, topics.kartra_events, [("acme:L1", event("evt-lost"))])
    await wait_for(lambda: len(router.gateway.commands()) == 1, timeout=30, message="first send")
    await publish_events(kafka, topics.kartra_events, [("acme:L1", event("evt-lost"))])  # redelivered
    run_id = run_id_for(zap_id, "evt-lost")
    await wait_for(lambda: engine.schedule.get(run_id), timeout=30, message="the run is watched")

    router.clock.advance(engine.redispatch_after.total_seconds() + 1)
    try:
        engine.progress = Progress(caught_up=False)  # results still waiting to be applied
        assert await engine.tick() == 0
        assert await engine.tick() == 0
        engine.progress.caught_up_now = True
        assert await engine.tick() == 1
    finally:
        engine.progress = real
    await wait_for(lambda: len(router.gateway.commands()) == 2, timeout=30, message="sent again")
    ce_ids = [ce_id for ce_id, _ in router.gateway.received]
    assert ce_ids[0] == ce_ids[1]  # same command id and attempt: the gateway ledger dedupes

    # The real progress: this group has applied every result there is, so the check goes at once.
    router.clock.advance(engine.redispatch_after.total_seconds() + 1)
    assert await engine.tick() == 1


async def test_results_progress_waits_for_the_group_to_commit_past_the_snapshot(
    kafka_bootstrap, topic_prefix, create_topics
):
    topic = f"{topic_prefix}progress"
    await create_topics([topic], partitions=2)
    progress = KafkaResultsProgress(kafka_bootstrap, f"{topic_prefix}g", topic)
    await progress.start()
    try:
        assert await progress.caught_up(await progress.end_offsets())  # empty topic
        await publish_events(kafka_bootstrap, topic, [(f"k{i}", event(f"e{i}")) for i in range(6)])
        snapshot = await progress.end_offsets()
        assert sum(snapshot.values()) == 6
        assert not await progress.caught_up(snapshot)  # nothing committed by the group yet

        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=kafka_bootstrap,
            group_id=f"{topic_prefix}g",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            seen = 0
            while seen < 6:
                batch = await consumer.getmany(timeout_ms=500)
                seen += sum(len(records) for records in batch.values())
            await consumer.commit()
        finally:
            await consumer.stop()
        assert await progress.caught_up(snapshot)
    finally:
        await progress.stop()


def _run(run_id: str, **fields: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "_id": run_id,
        "tenant": "acme",
        "zap_id": "z1",
        "trigger_event_id": run_id,
        "status": "running",
        "created_at": now,
        "finished_at": None,
        "steps": {"a": {"status": "running", "attempt": 1}},
        **fields,
    }


@pytest.mark.parametrize("cas_in_filter", [True, False], ids=["in-filter", "read-then-write-by-id"])
async def test_update_if_is_a_compare_and_set_both_ways(mongodb_url, mongo_db_name, cas_in_filter):
    mongo = AsyncMongoClient(mongodb_url, tz_aware=True)
    try:
        runs = RunStore(mongo[mongo_db_name], shards=2, cas_in_filter=cas_in_filter)
        await runs.ensure_indexes()
        await runs.insert_new([_run("r_1")])
        expect = {"steps.a.status": "running", "steps.a.attempt": 1}
        step_done = {"$set": {"steps.a.status": "succeeded", "status": "succeeded"}, "$inc": {"n": 1}}

        assert await runs.update_if("r_1", {"steps.a.attempt": 2}, step_done) is None
        assert (await runs.get("r_1"))["status"] == "running"
        updated = await runs.update_if("r_1", expect, step_done)
        assert updated is not None
        stored = await runs.get("r_1")
        assert stored["steps"] == updated["steps"] == {"a": {"status": "succeeded", "attempt": 1}}
        assert stored["status"] == updated["status"] == "succeeded" and stored["n"] == updated["n"] == 1
        # The same result again (a redelivery): the step is no longer running, nothing changes.
        assert await runs.update_if("r_1", expect, step_done, current=stored) is None
        assert (await runs.get("r_1"))["n"] == 1
        assert await runs.update_if("r_missing", {}, step_done) is None
    finally:
        await mongo.close()


async def test_retention_deletes_only_runs_finished_before_the_cutoff(mongodb_url, mongo_db_name):
    mongo = AsyncMongoClient(mongodb_url, tz_aware=True)
    now = datetime.now(UTC)
    old, recent = now - timedelta(days=31), now - timedelta(days=29)
    try:
        runs = RunStore(mongo[mongo_db_name], shards=3)
        await runs.ensure_indexes()
        expired = [_run(f"r_old_{i}", status="succeeded", finished_at=old) for i in range(5)]
        kept = [
            _run("r_recent", status="failed", finished_at=recent),
            _run("r_running", created_at=now - timedelta(days=90)),  # never finished
            _run("r_waiting", status="waiting", created_at=now - timedelta(days=90)),
            _run("r_filtered_recent", status="filtered", finished_at=recent),
        ]
        await runs.insert_new(expired + kept)
        # A small batch, so the job goes round more than once per shard.
        assert await runs.delete_finished(now - timedelta(days=30), batch=2) == 5
        assert await runs.count() == len(kept)
        assert await runs.delete_finished(now - timedelta(days=30), batch=2) == 0
    finally:
        await mongo.close()


async def test_the_router_expires_finished_runs_after_its_retention_setting(router):
    engine = router.services.engine
    assert engine.retention == timedelta(days=30)  # ROUTER_RUN_RETENTION_DAYS default
    now = router.clock.now()
    await router.services.runs.insert_new(
        [
            _run("r_a", status="succeeded", finished_at=now - timedelta(days=30, seconds=1)),
            _run("r_b", status="succeeded", finished_at=now - timedelta(days=29)),
        ]
    )
    assert await engine.expire_runs() == 1
    assert await router.services.runs.get("r_a") is None
    assert await router.services.runs.get("r_b") is not None
    router.clock.advance(days=1, seconds=1)
    assert await engine.expire_runs() == 1
