"""Budgets for templates, filters and formatters: one hostile record must never hold the router.

A template renders on the event loop that serves every tenant, and its data (a lead's name, an
amount) comes from outside. So every render runs under a :class:`Meter`: a deadline, a number of
loop iterations, a cap on the size of what it produces, and static limits on the arguments that
make one C-level call expensive (format widths, ``center``/``indent`` widths, ``replace`` growth,
number sizes). The meter is charged at the points every costly template passes through (loop
iterations, filter and method calls, operators, output chunks); the static limits are checked
before the call, so a single call never allocates gigabytes first. A breach raises
:class:`BudgetExceeded`, which the template layer turns into a permanent, named step error.

Pure: the clock is :func:`time.thread_time`, the CPU time of the rendering thread, read only to
compare against the deadline. CPU time, not wall time: on a starved machine a normal render that is
merely descheduled for a while must not be ended as if it were a bomb (a wall-clock budget failed
ordinary runs in the SIGTERM drill of the images); a hostile render burns CPU and is stopped.
"""

from __future__ import annotations

import gc
import re
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

RENDER_SECONDS = 0.02  # CPU seconds; a normal step input renders in well under a millisecond
MAX_ITERATIONS = 10_000  # loop iterations per render, nested loops counted together
MAX_OUTPUT = 1_000_000  # characters of one rendered value (text, or elements of a native value)
MAX_WIDTH = 1_000  # format widths and precisions, center/indent/wordwrap/truncate/batch sizes
MAX_NUMBER_DIGITS = 30  # decimal digits before the point a formatter accepts (10^30)
MAX_INT_BITS = 63  # a rendered integer must fit a signed 64-bit store (MongoDB's long)
MAX_POWER_BITS = 256  # ``a ** b`` only while the result stays below 2^256


class BudgetExceeded(Exception):
    """A render that broke a budget; ``what`` names it (``time``, ``loop iterations``, ...)."""

    def __init__(self, what: str, detail: str) -> None:
        self.what = what
        super().__init__(f"{what} budget exceeded: {detail}")


# CPU seconds the interpreter spent collecting garbage. A collection runs on whichever allocation
# triggers it: one that falls inside a render (a full collection of a large heap takes tens of
# milliseconds) is the process's cost, not the template's, so the time budget does not count it
# (without this, one in a few thousand ordinary renders ended "budget_exceeded").
_gc = {"spent": 0.0, "started": 0.0}


def _gc_callback(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _gc["started"] = time.thread_time()
    elif phase == "stop":
        _gc["spent"] += max(time.thread_time() - _gc["started"], 0.0)


gc.callbacks.append(_gc_callback)


@dataclass
class Meter:
    """One render's allowance. ``charge`` is cheap enough to call on every hook."""

    deadline: float
    iterations: int = MAX_ITERATIONS
    seconds: float = RENDER_SECONDS
    gc_at_start: float = field(default_factory=lambda: _gc["spent"])

    def charge(self, iterations: int = 0) -> None:
        if iterations:
            self.iterations -= iterations
            if self.iterations < 0:
                raise BudgetExceeded("loop iterations", f"more than {MAX_ITERATIONS} in one render")
        if time.thread_time() - (_gc["spent"] - self.gc_at_start) > self.deadline:
            raise BudgetExceeded("time", f"rendering took more than {self.seconds * 1000:.0f} ms of CPU")


_meter: ContextVar[Meter | None] = ContextVar("kxflow_render_meter", default=None)


@contextmanager
def metered(seconds: float = RENDER_SECONDS) -> Iterator[Meter]:
    """Render under a fresh meter, or under the enclosing one (a step's inputs share one)."""
    current = _meter.get()
    if current is not None:
        yield current
        return
    meter = Meter(deadline=time.thread_time() + seconds, seconds=seconds)
    token = _meter.set(meter)
    try:
        yield meter
    finally:
        _meter.reset(token)


def charge(iterations: int = 0) -> None:
    """Charge the active meter (no-op outside a render, e.g. while validating a zap)."""
    meter = _meter.get()
    if meter is not None:
        meter.charge(iterations)


def metered_iter(values: Iterable[Any]) -> Iterator[Any]:
    """A loop's iterable, charged one iteration per item."""
    meter = _meter.get()
    for value in values:
        if meter is not None:
            meter.charge(1)
        yield value


def check_size(value: Any, what: str = "output size") -> Any:
    """``value`` if its size (characters, or elements of a list/dict) is within the output cap."""
    if isinstance(value, str | list | tuple | dict) and len(value) > MAX_OUTPUT:
        raise BudgetExceeded(what, f"{len(value)} is more than {MAX_OUTPUT}")
    charge()
    return value


def check_width(value: Any, what: str = "width") -> None:
    """An integer argument that sizes a result (a width, a count) must be at most ``MAX_WIDTH``."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_WIDTH:
        raise BudgetExceeded("format width", f"{what} {value} is more than {MAX_WIDTH}")


# printf-style conversions: %[(key)][flags][width][.precision]type (glibc strftime's _ and ^ too)
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +_^]*(\*|\d+)?(?:\.(\*|\d+))?[a-zA-Z%]")
# str.format replacement fields: {name!conv:spec}
_FORMAT_FIELD = re.compile(r"\{[^{}]*(\{)?")
_DIGITS = re.compile(r"\d+")


def check_percent_format(fmt: str) -> None:
    """``fmt % args``: no width or precision above ``MAX_WIDTH``, none taken from the arguments."""
    for width, precision in _PERCENT_SPEC.findall(fmt):
        for number in (width, precision):
            if number == "*":
                raise BudgetExceeded("format width", "a width taken from the arguments ('*')")
            if number:
                check_width(int(number), "format width")


def check_brace_format(fmt: str) -> None:
    """``fmt.format(...)``: the same limits, and no nested (argument-supplied) widths."""
    for match in _FORMAT_FIELD.finditer(fmt):
        if match.group(1):
            raise BudgetExceeded("format width", "a width taken from the arguments (nested field)")
        _, _, spec = match.group(0).partition(":")
        for digits in _DIGITS.findall(spec):
            check_width(int(digits), "format width")


def check_int(value: int) -> int:
    """A rendered integer must fit 64 bits (what the run store and most consumers can hold)."""
    if value.bit_length() > MAX_INT_BITS:
        raise BudgetExceeded("number size", f"an integer of {value.bit_length()} bits is outside 64 bits")
    return value


def check_power(base: Any, exponent: Any) -> None:
    """``base ** exponent`` stays below 2^``MAX_POWER_BITS`` (estimated before computing it)."""
    if isinstance(exponent, int | float) and abs(exponent) > 64:
        raise BudgetExceeded("number size", f"exponent {exponent} is more than 64")
    if (
        isinstance(base, int)
        and isinstance(exponent, int)
        and exponent > 0
        and base.bit_length() * exponent > MAX_POWER_BITS
    ):
        raise BudgetExceeded("number size", f"the power has more than {MAX_POWER_BITS} bits")


def check_growth(length: int, occurrences: int, added: int) -> None:
    """A replacement that adds ``added`` characters at ``occurrences`` places stays within the cap."""
    if length + occurrences * max(added, 0) > MAX_OUTPUT:
        raise BudgetExceeded("output size", f"the result would exceed {MAX_OUTPUT} characters")
