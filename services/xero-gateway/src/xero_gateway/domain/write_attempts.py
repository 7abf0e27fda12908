"""When a Xero write may be sent again with its Idempotency-Key, and when it must not (issue 4).

Xero remembers an ``Idempotency-Key`` for 6 minutes from the first call. A write whose answer was
lost (time-out, transport error, ambiguous 5xx) and that is sent again after that window is new to
Xero: it is performed a second time. So every keyed write leaves an *attempt* record (adapter
``adapters.write_attempts``): when its first send of the current "epoch" left, and how many sends
are still without a definitive answer. Before each send the gateway asks :func:`decide`:

* no record, nothing outstanding, or the first send is younger than the safe window
  (``XERO_GW_WRITE_SAFE_WINDOW_SECONDS``, 300 s, under Xero's 360 s) → send: the key protects it;
* past the window, outcome unknown:

  - the write sets a state (update by id, upsert by a unique key) → send it again as a new epoch;
  - the action can look its record up (``domain.lookups``) → look it up first;
  - otherwise → refuse: the step fails ``outcome_unknown`` (not retryable), never a blind write;

* the refusal was for an earlier attempt of the command (the user checked Xero and replayed the
  run) → send again as a new epoch.

Everything here is pure: the adapter stores, the service layer (``service_layer.writes``) acts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

OUTCOME_UNKNOWN = "outcome_unknown"
DIFFERENT_REQUEST = "is used with a different request"


class Policy(StrEnum):
    """What a write allows once its outcome is unknown and Xero may have forgotten its key."""

    lookup = "lookup"  # a create whose record can be searched for (domain.lookups)
    repeatable = "repeatable"  # sending it again leaves the same state (update by id, upsert by key)
    none = "none"  # neither: never sent again blindly


class Next(StrEnum):
    send = "send"  # send with the key (Xero replays it if it has it)
    fresh = "fresh"  # forget the record (a new epoch: the key is new to Xero again), then send
    look_up = "look_up"  # search for the record first
    refuse = "refuse"  # fail the step outcome_unknown


class Answer(StrEnum):
    created = "created"  # 2xx: performed (or Xero replayed the performed answer)
    rejected = "rejected"  # a definitive 4xx: nothing was written
    not_processed = "not_processed"  # this send was not processed (429, 401): earlier sends unchanged
    unknown = "unknown"  # 5xx, a time-out: it may have been performed


@dataclass(frozen=True)
class Attempt:
    """The stored record of one idempotency key (``adapters.write_attempts``)."""

    key: str
    sent_at: datetime | None  # first send of the current epoch (wall clock, before it left)
    open: int = 0  # sends without a definitive answer (may have been performed)
    resource_id: str | None = None  # what a 2xx answer created (or a lookup adopted)
    refused_attempt: int | None = None  # the command attempt that was refused outcome_unknown


def age_seconds(attempt: Attempt, now: datetime, clock_speed: float = 1.0) -> float:
    """Age of the epoch in Xero seconds (the gateway's test clock may run Xero time faster)."""
    if attempt.sent_at is None:
        return 0.0
    return (now - attempt.sent_at).total_seconds() * clock_speed


def decide(
    attempt: Attempt | None,
    now: datetime,
    *,
    policy: Policy,
    command_attempt: int,
    safe_window_s: float,
    clock_speed: float = 1.0,
) -> Next:
    if attempt is None or attempt.sent_at is None:
        return Next.send
    if attempt.refused_attempt is not None and command_attempt > attempt.refused_attempt:
        return Next.fresh  # a replay after outcome_unknown: the user decided to write again
    if attempt.open <= 0 and attempt.resource_id is None:
        return Next.send  # nothing may have been performed: the key is as good as new
    if age_seconds(attempt, now, clock_speed) <= safe_window_s:
        return Next.send  # Xero still holds the key: a performed write is replayed, not redone
    if attempt.refused_attempt is not None:
        return Next.refuse  # the same attempt again (a redelivery): the same answer
    if policy is Policy.repeatable:
        return Next.fresh
    if policy is Policy.lookup:
        return Next.look_up
    return Next.refuse


def classify_answer(status: int, text: str = "") -> Answer:
    """What one HTTP answer to a keyed write says about the key (inside Xero's window a later send
    gets the cached answer of a performed one, so a 2xx or 4xx settles every send of the epoch)."""
    if 200 <= status < 300:
        return Answer.created
    if status in (401, 429):
        return Answer.not_processed
    if status == 400 and DIFFERENT_REQUEST in text:
        return Answer.unknown  # Xero holds the key for another body: something was sent before
    if 400 <= status < 500:
        return Answer.rejected
    return Answer.unknown


def refusal_message(method: str, path: str, first_sent: datetime | None, reason: str) -> str:
    when = first_sent.isoformat(timespec="seconds") if first_sent else "earlier"
    return (
        f"The write may have been performed in Xero; check Xero, then replay the run. {method} {path} "
        f"was first sent at {when}, its answer never arrived, and Xero's 6-minute Idempotency-Key "
        f"window has passed, so sending it again could perform it twice ({reason})."
    )
