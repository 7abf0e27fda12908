"""Loopback ports for test servers that nothing else on the machine will take in the meantime.

A port from ``bind(("127.0.0.1", 0))`` comes from the kernel's *ephemeral* range (Linux:
``/proc/sys/net/ipv4/ip_local_port_range``, 32768–60999 by default), the same range every
outgoing connection draws its local port from. Between picking such a port and the server
binding it (a broker or service takes seconds to start), or while a drill has a server stopped
and means to restart it on the same port, any client connection may take it, and the server
fails with "address already in use". CI saw exactly that twice in one run.

So ports are drawn at random from below the ephemeral range, checked with a bind, never handed
out twice by one process, and reserved across processes by a file naming the reserving pid (a
reservation whose process is gone is taken over).
"""

from __future__ import annotations

import atexit
import os
import random
import socket
import tempfile
from pathlib import Path

_FALLBACK_EPHEMERAL_LOW = 32768
_LOWEST = 20000  # above the well-known and most registered service ports used on dev machines
_RESERVATIONS = Path(tempfile.gettempdir()) / "kxflow-ports"
_handed_out: set[int] = set()


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return _FALLBACK_EPHEMERAL_LOW


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _reserve(port: int) -> bool:
    """Claim ``port`` for this process; False if a live process holds it."""
    _RESERVATIONS.mkdir(exist_ok=True)
    path = _RESERVATIONS / str(port)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        try:
            holder = int(path.read_text() or "0")
        except (OSError, ValueError):
            holder = 0
        if holder and holder != os.getpid() and _pid_alive(holder):
            return False
        path.write_text(str(os.getpid()))
        return True
    with os.fdopen(fd, "w") as f:
        f.write(str(os.getpid()))
    return True


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A loopback port below the ephemeral range, free now and reserved for this process."""
    high = _ephemeral_low() - 1
    low = _LOWEST if high - _LOWEST > 1000 else 1024
    for _ in range(500):
        port = random.randint(low, high)
        if port in _handed_out or not _bindable(port) or not _reserve(port):
            continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free loopback port found in {low}–{high}")


@atexit.register
def _release() -> None:
    for port in _handed_out:
        path = _RESERVATIONS / str(port)
        try:
            if path.read_text() == str(os.getpid()):
                path.unlink()
        except OSError:
            pass
