"""Stdlib-only readiness probes used by deploy/local/infra.sh (no virtualenv needed).

    python3 probe.py kafka 127.0.0.1:19092   # exit 0 when a real Metadata request lists a broker
    python3 probe.py mongo 127.0.0.1:27027   # exit 0 when {ping: 1} answers ok: 1
    python3 probe.py kafka 127.0.0.1:19542 ca.pem  # a TLS listener verified against ca.pem

On a TLS listener the Kafka probe stops after ApiVersions: a SASL listener answers nothing else
before authentication, and ApiVersions over a verified TLS session already shows the broker up.

Both speak the wire protocol directly (Kafka ApiVersions + Metadata, MongoDB OP_MSG), so a port
that merely accepts connections is not mistaken for a ready server.
"""

from __future__ import annotations

import socket
import ssl
import struct
import sys

TIMEOUT = 3.0


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed by server")
        buf += chunk
    return bytes(buf)


# --------------------------------------------------------------------------- Kafka


def _kafka_call(sock: socket.socket, api_key: int, version: int, corr: int, body: bytes) -> bytes:
    client_id = b"kxflow-probe"
    header = struct.pack(">hhih", api_key, version, corr, len(client_id)) + client_id
    payload = header + body
    sock.sendall(struct.pack(">i", len(payload)) + payload)
    (size,) = struct.unpack(">i", _recv_exact(sock, 4))
    resp = _recv_exact(sock, size)
    (resp_corr,) = struct.unpack_from(">i", resp, 0)
    if resp_corr != corr:
        raise ValueError(f"correlation id mismatch: {resp_corr} != {corr}")
    return resp[4:]


def _connect(host: str, port: int, cafile: str | None) -> socket.socket:
    sock = socket.create_connection((host, port), timeout=TIMEOUT)
    sock.settimeout(TIMEOUT)
    if cafile is None:
        return sock
    return ssl.create_default_context(cafile=cafile).wrap_socket(sock, server_hostname=host)


def probe_kafka(host: str, port: int, cafile: str | None = None) -> str:
    with _connect(host, port, cafile) as sock:
        # ApiVersions v0 (always answered with a v0 response).
        resp = _kafka_call(sock, 18, 0, 1, b"")
        error, count = struct.unpack_from(">hi", resp, 0)
        if error:
            raise ValueError(f"ApiVersions error {error}")
        versions = {}
        for i in range(count):
            key, vmin, vmax = struct.unpack_from(">hhh", resp, 6 + 6 * i)
            versions[key] = (vmin, vmax)
        if 3 not in versions:
            raise ValueError("broker does not offer Metadata")
        if cafile is not None:
            return f"kafka ok over verified TLS: {len(versions)} APIs"
        vmin, vmax = versions[3]
        version = min(vmax, 8)  # v4..v8 are the non-flexible versions with the layout below
        if version < max(vmin, 4):
            raise ValueError(f"no usable Metadata version in {vmin}..{vmax}")
        body = struct.pack(">ib", -1, 0)  # all topics, allow_auto_topic_creation=false
        if version >= 8:
            body += struct.pack(">bb", 0, 0)  # include cluster/topic authorized operations
        resp = _kafka_call(sock, 3, version, 2, body)
        off = 4  # throttle_time_ms
        (n_brokers,) = struct.unpack_from(">i", resp, off)
        off += 4
        brokers = []
        for _ in range(n_brokers):
            node_id, hlen = struct.unpack_from(">ih", resp, off)
            off += 6
            bhost = resp[off : off + hlen].decode()
            off += hlen
            (bport, rlen) = struct.unpack_from(">ih", resp, off)
            off += 6 + max(rlen, 0)
            brokers.append(f"{node_id}@{bhost}:{bport}")
        if not brokers:
            raise ValueError("metadata lists no brokers yet")
        return f"kafka ok: brokers={','.join(brokers)}"


# --------------------------------------------------------------------------- MongoDB


def _bson_cstring(s: str) -> bytes:
    return s.encode() + b"\x00"


def _bson_ping() -> bytes:
    elems = b"\x10" + _bson_cstring("ping") + struct.pack("<i", 1)
    db = _bson_cstring("admin")
    elems += b"\x02" + _bson_cstring("$db") + struct.pack("<i", len(db)) + db
    return struct.pack("<i", 4 + len(elems) + 1) + elems + b"\x00"


def _bson_top_level(doc: bytes) -> dict[str, object]:
    """Decode the scalar top-level fields of a BSON document (enough for a ping reply)."""
    out: dict[str, object] = {}
    off, end = 4, len(doc) - 1
    while off < end:
        etype = doc[off]
        off += 1
        nul = doc.index(b"\x00", off)
        name = doc[off:nul].decode()
        off = nul + 1
        if etype == 0x01:
            out[name] = struct.unpack_from("<d", doc, off)[0]
            off += 8
        elif etype == 0x02:
            (slen,) = struct.unpack_from("<i", doc, off)
            out[name] = doc[off + 4 : off + 4 + slen - 1].decode()
            off += 4 + slen
        elif etype == 0x08:
            out[name] = bool(doc[off])
            off += 1
        elif etype == 0x10:
            out[name] = struct.unpack_from("<i", doc, off)[0]
            off += 4
        elif etype in (0x09, 0x11, 0x12):
            out[name] = struct.unpack_from("<q", doc, off)[0]
            off += 8
        elif etype in (0x03, 0x04):
            (dlen,) = struct.unpack_from("<i", doc, off)
            off += dlen
        else:  # a type we do not need: stop decoding
            break
    return out


def probe_mongo(host: str, port: int, cafile: str | None = None) -> str:
    body = struct.pack("<IB", 0, 0) + _bson_ping()  # flagBits, section kind 0
    msg = struct.pack("<iiii", 16 + len(body), 1, 0, 2013) + body  # OP_MSG
    with _connect(host, port, cafile) as sock:
        sock.sendall(msg)
        (length,) = struct.unpack("<i", _recv_exact(sock, 4))
        rest = _recv_exact(sock, length - 4)
    _req, _resp_to, opcode = struct.unpack_from("<iii", rest, 0)
    if opcode != 2013:
        raise ValueError(f"unexpected reply opcode {opcode}")
    kind = rest[16]
    if kind != 0:
        raise ValueError(f"unexpected section kind {kind}")
    reply = _bson_top_level(rest[17:])
    if reply.get("ok") != 1:
        raise ValueError(f"ping failed: {reply}")
    return "mongo ok: ping"


def main(argv: list[str]) -> int:
    if len(argv) not in (3, 4) or argv[1] not in ("kafka", "mongo"):
        print(__doc__, file=sys.stderr)
        return 2
    host, _, port = argv[2].rpartition(":")
    try:
        probe = probe_kafka if argv[1] == "kafka" else probe_mongo
        print(probe(host, int(port), argv[3] if len(argv) == 4 else None))
    except (OSError, ValueError, struct.error, IndexError) as exc:
        print(f"{argv[1]} not ready: {exc!r}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
