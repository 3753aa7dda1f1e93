"""A small closed-loop HTTP/1.1 load generator for pre-built requests (asyncio, keep-alive).

Requests are signed ahead of time, so the client spends its time sending bytes, not signing:
what is measured is the server. Each connection sends its requests one after another; latency is
the time from sending a request to reading its whole response.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass
class Result:
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))
        return ordered[index]


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:].strip())
    if length:
        await reader.readexactly(length)
    return status


async def _connection(
    host: str, port: int, requests: Sequence[bytes], deadline: float, max_requests: int, out: Result
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        i = 0
        while time.perf_counter() < deadline and i < max_requests:
            raw = requests[i % len(requests)]
            start = time.perf_counter()
            writer.write(raw)
            status = await _read_response(reader)
            out.latencies_ms.append((time.perf_counter() - start) * 1000)
            out.requests += 1
            if status >= 400:
                out.errors += 1
            i += 1
    finally:
        writer.close()


def combine(results: Sequence[Result]) -> Result:
    """Several runs as one: their requests, errors, time and latencies added up."""
    return Result(
        requests=sum(r.requests for r in results),
        errors=sum(r.errors for r in results),
        seconds=sum(r.seconds for r in results),
        latencies_ms=[ms for r in results for ms in r.latencies_ms],
    )


def run(
    host: str,
    port: int,
    per_connection: Sequence[Sequence[bytes]],
    seconds: float,
    max_requests_per_connection: int = 1_000_000,
) -> Result:
    """Drive one connection per entry of ``per_connection`` for ``seconds`` (bounded by count)."""

    async def main() -> Result:
        out = Result(0, 0, 0.0, [])
        start = time.perf_counter()
        deadline = start + seconds
        await asyncio.gather(
            *(
                _connection(host, port, reqs, deadline, max_requests_per_connection, out)
                for reqs in per_connection
            )
        )
        out.seconds = time.perf_counter() - start
        return out

    return asyncio.run(main())
