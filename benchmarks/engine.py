"""Policy engine benchmark: decisions per second in process, and ``ironkeep simulate`` end to end.

    python3 benchmarks/engine.py            # both, prints a Markdown table
    python3 benchmarks/engine.py --quick    # smaller numbers, for a smoke run

(a) In process, one core: every principal's policy set (with the resource policy of each
    resource it touches) is compiled once with ``compile_policy_set``; then ``authorize`` runs
    in a loop over prebuilt requests. The same :class:`Decision` objects can ``explain()``
    themselves afterwards; the table also gives the rate with ``to_json()`` (what the CLI
    writes) and the rate of ``explain()`` itself.
(b) ``python3 -m ironkeep simulate FILE`` as a whole process, on a generated JSON Lines file
    with every policy embedded in every request (written under benchmarks/out/); a big file is
    decided on two cores. Also on stdin (``simulate - < FILE``), which stays on one core.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from workload import requests, write_jsonl

from ironkeep.engine import authorize, compile_policy_set
from ironkeep.simulate import build_request

OUT = Path(__file__).resolve().parent / "out"


def _compiled(reqs: list[dict[str, Any]]) -> tuple[list[Any], float, int]:
    """(request, policy set) pairs; each distinct set compiled once. Returns time and count."""
    sets: dict[bytes, Any] = {}
    pairs = []
    t = time.perf_counter()
    for r in reqs:
        key = orjson.dumps(r["policies"])
        ps = sets.get(key)
        if ps is None:
            pol = r["policies"]
            ps = sets[key] = compile_policy_set(
                identity=pol["identity"],
                permissions_boundary=pol["permissions_boundary"],
                session=pol["session"],
                resource=pol["resource"],
                scps=pol["scps"],
                rcps=pol["rcps"],
            )
        pairs.append((build_request(r), ps))
    return pairs, time.perf_counter() - t, len(sets)


def _rate(fn: Any, pairs: list[Any], rounds: int) -> tuple[float, Any]:
    out = fn(pairs)  # warm: per-action plans of each policy set are built on first use
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        out = fn(pairs)
        best = min(best, time.perf_counter() - t)
    return len(pairs) / best, out


def in_process(n: int, rounds: int) -> dict[str, Any]:
    reqs = list(requests(seed=11, n=n))
    pairs, compile_s, n_sets = _compiled(reqs)
    gc.collect()
    gc.freeze()  # the requests and compiled sets are long-lived; keep the collector off them

    def decide(ps: list[Any]) -> list[Any]:
        return [authorize(r, s) for r, s in ps]

    def decide_json(ps: list[Any]) -> list[Any]:
        return [orjson.dumps(authorize(r, s).to_json()) for r, s in ps]

    rate, decisions = _rate(decide, pairs, rounds)
    rate_json, _ = _rate(decide_json, pairs, rounds)
    sample = decisions[: min(2000, len(decisions))]
    t = time.perf_counter()
    for d in sample:
        d.explain()
    explain_rate = len(sample) / (time.perf_counter() - t)
    return {
        "requests": n,
        "distinct_sets": n_sets,
        "compile_s": compile_s,
        "rate": rate,
        "rate_json": rate_json,
        "explain_rate": explain_rate,
        "outcomes": Counter(d.decision for d in decisions),
    }


def _time_cli(args: list[str], path: Path, via_stdin: bool, rounds: int) -> tuple[float, float, bytes]:
    """Best wall time and CPU time (the process and its children) of ``ironkeep simulate``."""
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parent.parent / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    best = cpu = float("inf")
    stdout = b""
    for _ in range(rounds):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        with path.open("rb") as f:
            proc = subprocess.run(
                [sys.executable, "-m", "ironkeep", "simulate", *args],
                env=env,
                stdin=f if via_stdin else subprocess.DEVNULL,
                capture_output=True,
                check=True,
            )
        best = min(best, time.perf_counter() - t)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = min(cpu, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        stdout = proc.stdout
    return best, cpu, stdout


def whole_process(n: int, rounds: int) -> dict[str, Any]:
    path = OUT / f"requests-{n}.jsonl"
    size = write_jsonl(path, seed=7, n=n)
    wall, cpu, out = _time_cli([str(path)], path, False, rounds)
    wall1, cpu1, out1 = _time_cli(["-"], path, True, rounds)
    written = out.count(b"\n")
    if written != n or out1 != out:
        raise SystemExit(f"simulate wrote {written} lines for {n} requests, or stdin and file differ")
    return {
        "requests": n,
        "mb": size / 1e6,
        "per_request_kb": size / n / 1024,
        "wall_s": wall,
        "cpu_s": cpu,
        "stdin_wall_s": wall1,
        "stdin_cpu_s": cpu1,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="2,000 requests, one round")
    ap.add_argument("--skip-process", action="store_true")
    a = ap.parse_args()
    n, rounds = (2000, 1) if a.quick else (20000, 3)
    ip = in_process(n, rounds)
    outcomes = ", ".join(f"{k} {v}" for k, v in sorted(ip["outcomes"].items()))
    print("| Measure | Result | Target |")
    print("|---|---|---|")
    print(
        f"| (a) `authorize`, policy sets compiled ahead, 1 core | {ip['rate']:,.0f} decisions/s | >= 100,000/s |"
    )
    print(f"| (a) `authorize` + `to_json()` + orjson | {ip['rate_json']:,.0f} decisions/s | |")
    print(f"| (a) `Decision.explain()` on the same objects | {ip['explain_rate']:,.0f} traces/s | |")
    print(f"| (a) compile {ip['distinct_sets']:,} distinct policy sets | {ip['compile_s']:.2f} s | |")
    if not a.skip_process:
        wp = whole_process(n, rounds)
        what = f"{wp['requests']:,} requests, {wp['mb']:.0f} MB ({wp['per_request_kb']:.1f} KiB each)"
        print(
            f"| (b) `python3 -m ironkeep simulate FILE`, {what} "
            f"| {wp['wall_s']:.2f} s wall ({wp['cpu_s']:.2f} s CPU; a second process when a core is idle) | < 2 s |"
        )
        print(
            f"| (b) the same on stdin (`simulate - < FILE`, one core) "
            f"| {wp['stdin_wall_s']:.2f} s wall ({wp['stdin_cpu_s']:.2f} s CPU) | |"
        )
    print(f"\nOutcomes of the {n:,} requests: {outcomes}. Load average when done: {os.getloadavg()[0]:.2f}.")


if __name__ == "__main__":
    main()
