"""``ironkeep serve --workers N``: N worker processes accepting on one port.

Python runs one request at a time per process, so one process uses one core. Each worker listens
on the port with its own ``SO_REUSEPORT`` socket, and the kernel spreads new connections over
them (on one shared socket, whichever worker woke first would accept a whole burst of
connections, and keep-alive clients would then stay on it). The parent holds the port bound
(not listening) from the start, forks the workers (before it has started any thread or opened
any connection), and then only supervises: it forwards SIGTERM and SIGINT to the workers, waits
for them to finish their requests in flight, and exits 0. A worker that dies on its own is
started again.

Workers share nothing but the store, exactly like several Ironkeep nodes in front of one
PostgreSQL: every worker's caches are checked against the account's generation in the store on
each request, so a change made through one worker is enforced by all of them at once.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import sys
import time
from collections.abc import Callable

RESTART_DELAY = 1.0


def reserve(host: str, port: int) -> socket.socket:
    """``host:port`` bound with ``SO_REUSEPORT`` but not listening: the port is taken, and the
    workers' sockets can join it. Port 0 picks a free one.

    The port is first bound once without ``SO_REUSEPORT``: that fails (``OSError``, address in
    use) if anything listens there, another Ironkeep's workers included, which would otherwise
    share the port with this one and split its clients between two servers."""
    probe = _socket(host)
    try:
        probe.bind((host, port))
        port = probe.getsockname()[1]
    finally:
        probe.close()
    return _shared(host, port)


def listen(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """A worker's own listening socket on the reserved ``host:port``."""
    sock = _shared(host, port)
    sock.listen(backlog)
    return sock


def _socket(host: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    return sock


def _shared(host: str, port: int) -> socket.socket:
    sock = _socket(host)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def pin(index: int) -> None:
    """Keep worker ``index`` (and every thread it will start) on one CPU of those allowed.

    A worker's threads (the event loop, the audit writer, the thread pool) share one interpreter
    lock: when they run on two cores, every hand-over moves the objects they share from one
    core's cache to the other's, which costs more than the work handed over (measured: the audit
    trail cost 260 us per GetUser across two cores, 90 us on one). Workers spread over the CPUs
    one each, round robin."""
    if not hasattr(os, "sched_setaffinity"):  # pragma: no cover - not Linux
        return
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) > 1:
        os.sched_setaffinity(0, {allowed[index % len(allowed)]})


def _die_with(parent: int) -> None:
    """Have the kernel send this worker SIGTERM when the supervisor dies, even by SIGKILL (Linux's
    PR_SET_PDEATHSIG), so that no worker outlives it holding the port."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        return
    if os.getppid() != parent:  # it died before the request took effect
        os._exit(0)


_PR_SET_PDEATHSIG = 1


def supervise(workers: int, run_worker: Callable[[int], int]) -> int:
    """Fork ``workers`` processes running ``run_worker(index)`` (its return value is the
    process's exit status); return 0 once they have all stopped after SIGTERM/SIGINT."""
    children: dict[int, int] = {}  # pid -> worker index
    stopping = False
    parent = os.getpid()

    def start(index: int) -> None:
        pid = os.fork()
        if pid == 0:  # the worker: the parent's handlers are not its own
            _die_with(parent)
            pin(index)
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent forwards Ctrl-C as SIGTERM
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            status = 1
            try:
                status = run_worker(index)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(status)
        children[pid] = index

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for index in range(workers):
            start(index)
        while children:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            except InterruptedError:  # pragma: no cover - PEP 475 retries os.wait itself
                continue
            if pid not in children:
                continue
            index = children.pop(pid)
            if stopping:
                continue
            code = os.waitstatus_to_exitcode(status)
            print(f"ironkeep: worker {index} (pid {pid}) exited with {code}; starting it again", flush=True)
            time.sleep(RESTART_DELAY)
            if not stopping:
                start(index)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
