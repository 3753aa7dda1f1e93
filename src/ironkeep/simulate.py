"""``ironkeep simulate``: the policy engine on JSON Lines, with no server and no database.

:func:`decide` turns one request of the simulate format (``docs/simulate-format.md``) into a
decision dict, or into ``{"error": {"code": ..., "message": ...}}`` when a policy
(``MalformedPolicyDocument``) or the request itself (``InvalidInput``) is malformed.

:func:`run_cli` streams a JSON Lines file (or stdin) through the engine and writes one line a
request, in order. Speed matters there: a batch repeats the same few hundred policy sets many
thousand times, so each distinct ``policies`` value is parsed and compiled once. The line is cut
at its top-level ``"policies":`` member without parsing the policies at all (see
:func:`_split_line`); lines that do not have that shape take the ordinary path. A big regular
file is decided on two cores when one is idle (a forked child takes the second half; output
order is kept).
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, BinaryIO

from ironkeep.errors import AWSError, InvalidInput, MalformedPolicyDocument

if TYPE_CHECKING:
    from ironkeep.engine import PolicySet, Request

_REQUEST_KEYS = frozenset(
    {"principal", "organization", "action", "resource", "resource_account", "context", "policies"}
)
_PRINCIPAL_KEYS = frozenset({"arn", "id", "tags", "service"})
_ORG_KEYS = frozenset({"management_account"})
_POLICY_KEYS = frozenset({"identity", "session", "permissions_boundary", "resource", "scps", "rcps"})


# -- one request ------------------------------------------------------------------------------


def decide(obj: Any) -> dict[str, Any]:
    """Decide one simulate-format request; malformed input gives an ``{"error": ...}`` dict."""
    from ironkeep.engine import authorize

    try:
        request = build_request(obj)
        policies = build_policy_set(obj.get("policies"))
    except AWSError as exc:
        return error_dict(exc)
    return dict(authorize(request, policies).to_json())


def error_dict(exc: AWSError) -> dict[str, Any]:
    return {"error": {"code": exc.code, "message": exc.message}}


def build_request(obj: Any) -> Request:
    """The engine's :class:`Request` from a request object (its ``policies`` member aside)."""
    from ironkeep.engine import Principal, Request

    if not isinstance(obj, Mapping):
        raise InvalidInput("request: must be a JSON object")
    if not _REQUEST_KEYS.issuperset(obj):
        raise InvalidInput(f"request: unknown member {_first_unknown(obj, _REQUEST_KEYS)!r}")
    p = obj.get("principal")
    if not isinstance(p, Mapping):
        raise InvalidInput("principal: must be a JSON object with 'arn' or 'service'")
    if not _PRINCIPAL_KEYS.issuperset(p):
        raise InvalidInput(f"principal: unknown member {_first_unknown(p, _PRINCIPAL_KEYS)!r}")
    arn, service = p.get("arn"), p.get("service")
    if (arn is None) == (service is None):
        raise InvalidInput("principal: give exactly one of 'arn' and 'service'")
    if arn is not None and not _is_arn(arn):
        raise InvalidInput(f"principal.arn: not an ARN: {_show(arn)}")
    if service is not None and not (isinstance(service, str) and service):
        raise InvalidInput("principal.service: must be a non-empty string")
    principal = Principal(
        arn=arn,
        id=_opt_str(p.get("id"), "principal.id"),
        tags=_tags(p.get("tags")),
        service=service,
    )
    org = obj.get("organization")
    if org is None:
        management = None
    elif isinstance(org, Mapping):
        if not _ORG_KEYS.issuperset(org):
            raise InvalidInput(f"organization: unknown member {_first_unknown(org, _ORG_KEYS)!r}")
        management = _opt_str(org.get("management_account"), "organization.management_account")
    else:
        raise InvalidInput("organization: must be a JSON object or null")
    action = obj.get("action")
    if not isinstance(action, str) or not action:
        raise InvalidInput("action: must be a non-empty string such as 's3:GetObject'")
    resource = obj.get("resource", "*")
    if not isinstance(resource, str) or not resource:
        raise InvalidInput("resource: must be a non-empty string (an ARN or '*')")
    return Request(
        principal=principal,
        action=action,
        resource=resource,
        resource_account=_opt_str(obj.get("resource_account"), "resource_account"),
        context=_context(obj.get("context")),
        management_account=management,
    )


Parse = Callable[[Any, str, str], Any]


def parse_doc(doc: Any, kind: str, where: str) -> Any:
    """One policy document of ``kind`` parsed and validated; errors name the document."""
    from ironkeep.policy import parse_policy

    if not isinstance(doc, (str, Mapping)):
        raise MalformedPolicyDocument(f"{where}: a policy document must be a JSON object or a JSON string")
    try:
        return parse_policy(doc, kind=kind)
    except MalformedPolicyDocument as exc:
        raise MalformedPolicyDocument(f"{where}: {exc.message}") from None


def build_policy_set(pol: Any, parse: Parse = parse_doc) -> PolicySet:
    """The engine's compiled :class:`PolicySet` from a request's ``policies`` member.

    ``parse(doc, kind, where)`` turns each document into a parsed policy (the resource policy is
    tried as a ``resource`` policy, then as a role ``trust`` policy); the JSON Lines runner passes
    one that caches by document text.
    """
    from ironkeep.engine import compile_policy_set

    if pol is None:
        pol = {}
    if not isinstance(pol, Mapping):
        raise InvalidInput("policies: must be a JSON object")
    if not _POLICY_KEYS.issuperset(pol):
        raise InvalidInput(f"policies: unknown member {_first_unknown(pol, _POLICY_KEYS)!r}")
    identity = [parse(d, "identity", w) for w, d in _doc_list(pol.get("identity"), "policies.identity")]
    session = [parse(d, "session", w) for w, d in _doc_list(pol.get("session"), "policies.session")]
    boundary = pol.get("permissions_boundary")
    if boundary is not None:
        boundary = parse(boundary, "boundary", "policies.permissions_boundary")
    scps = [[parse(d, "scp", w) for w, d in level] for level in _levels(pol.get("scps"), "policies.scps")]
    rcps = [[parse(d, "rcp", w) for w, d in level] for level in _levels(pol.get("rcps"), "policies.rcps")]
    resource = pol.get("resource")
    if resource is not None:  # a bucket/queue/key policy, or else a role trust policy
        try:
            resource = parse(resource, "resource", "policies.resource")
        except MalformedPolicyDocument as exc:
            try:
                resource = parse(resource, "trust", "policies.resource")
            except MalformedPolicyDocument:
                raise exc from None
    return compile_policy_set(
        identity=identity,
        permissions_boundary=boundary,
        session=session,
        resource=resource,
        scps=scps,
        rcps=rcps,
    )


def _doc_list(v: Any, where: str) -> list[tuple[str, Any]]:
    if v is None:
        return []
    if not isinstance(v, list):
        raise InvalidInput(f"{where}: must be a list of policy documents")
    return [(f"{where}[{i}]", d) for i, d in enumerate(v)]


def _levels(v: Any, where: str) -> list[list[tuple[str, Any]]]:
    if v is None:
        return []
    if not isinstance(v, list):
        raise InvalidInput(f"{where}: must be a list of levels, each a list of policy documents")
    out = []
    for i, level in enumerate(v):
        if not isinstance(level, list) or not level:
            raise InvalidInput(f"{where}[{i}]: each level must be a non-empty list of policy documents")
        out.append([(f"{where}[{i}][{j}]", d) for j, d in enumerate(level)])
    return out


def _first_unknown(obj: Mapping[str, Any], known: frozenset[str]) -> str:
    return sorted(str(k) for k in obj if k not in known)[0]


def _is_arn(v: Any) -> bool:
    return isinstance(v, str) and v.startswith("arn:") and v.count(":") >= 5


def _show(v: Any) -> str:
    s = repr(v)
    return s if len(s) <= 80 else s[:77] + "..."


def _opt_str(v: Any, where: str) -> str | None:
    if v is None or isinstance(v, str):
        return v
    raise InvalidInput(f"{where}: must be a string")


def _tags(v: Any) -> dict[str, str]:
    if v is None:
        return {}
    if not isinstance(v, Mapping):
        raise InvalidInput("principal.tags: must be a JSON object of strings")
    if all(type(t) is str for t in v.values()):
        return v  # type: ignore[return-value]
    for k, t in v.items():
        if not isinstance(t, str):
            raise InvalidInput(f"principal.tags.{k}: must be a string")
    return dict(v)


def _scalar(v: Any, where: str) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    raise InvalidInput(f"{where}: must be a string or a list of strings")


def _context(v: Any) -> dict[str, str | list[str]]:
    if v is None:
        return {}
    if not isinstance(v, Mapping):
        raise InvalidInput("context: must be a JSON object")
    if all(type(val) is str for val in v.values()):
        return v  # type: ignore[return-value]
    out: dict[str, str | list[str]] = {}
    for k, val in v.items():
        if isinstance(val, str):
            out[k] = val
        elif isinstance(val, list):
            out[k] = [_scalar(x, f"context.{k}[{i}]") for i, x in enumerate(val)]
        else:
            out[k] = _scalar(val, f"context.{k}")
    return out


# -- JSON Lines -------------------------------------------------------------------------------

_POLICIES = b'"policies":'
_CHUNK = 1 << 23
_CACHE_MAX = 4096
_GC_EVERY = 1 << 17
_TWO_CORES_FROM = 1 << 24


def _split_line(line: bytes) -> tuple[bytes, bytes] | None:
    """Cut ``{..., "policies": VALUE}`` into ``({..., "policies":null}``, ``VALUE``), or None.

    Sound without a full parse: if the head parses as a JSON object and VALUE parses as a JSON
    value, the line is that object with VALUE in place of the null (the final ``}`` closes the
    outermost object, so the member is top-level). A ``"`` inside a string is escaped, so a
    head that ends in ``,`` or ``{`` cannot have cut a string.
    """
    p = line.find(_POLICIES)
    if p < 0:
        return None
    head = line[:p].rstrip()
    if not head or head[-1] not in b",{" or b'"policies"' in head:
        return None
    tail = line[p + len(_POLICIES) :].rstrip()
    if not tail.endswith(b"}"):
        return None
    return head + b'"policies":null}', tail[:-1].strip()


class _Batch:
    """Decides lines; compiles each distinct ``policies`` value once (bounded cache)."""

    def __init__(self) -> None:
        import orjson

        from ironkeep.engine import authorize

        self._loads = orjson.loads
        self._authorize = authorize
        self._dumps = orjson.dumps
        self._cache: dict[bytes, Any] = {}
        self._docs: dict[tuple[str, Any], Any] = {}

    def _parse(self, doc: Any, kind: str, where: str) -> Any:
        """:func:`parse_doc` cached by the document's JSON text (the engine then keys on identity)."""
        if not isinstance(doc, (str, dict)):
            return parse_doc(doc, kind, where)
        try:
            text = doc if isinstance(doc, str) else self._dumps(doc)
        except TypeError:  # not JSON (integers beyond 64 bits ...): the engine's own path
            return parse_doc(doc, kind, where)
        key = (kind, text)
        policy = self._docs.get(key)
        if policy is None:
            if len(self._docs) >= _CACHE_MAX:
                self._docs.clear()
            policy = self._docs[key] = parse_doc(
                text if isinstance(text, str) else text.decode(), kind, where
            )
        return policy

    def decide(self, line: bytes) -> Any:
        """A Decision, or an AWSError for a bad line."""
        loads = self._loads
        cut = _split_line(line)
        policies: Any = None
        if cut is not None:
            try:
                head = loads(cut[0])
                policies = self._cache.get(cut[1])
                if policies is None:
                    fresh = loads(cut[1])  # a VALUE that does not parse alone: ordinary path
            except ValueError:
                cut = None
        try:
            if cut is None:
                try:
                    obj = loads(line)
                except ValueError as exc:
                    return InvalidInput(f"request: not valid JSON ({exc})")
                request = build_request(obj)
                policies = build_policy_set(obj.get("policies"), self._parse)
            else:
                request = build_request(head)
                if policies is None:
                    try:
                        policies = build_policy_set(fresh, self._parse)
                    except AWSError as exc:
                        policies = exc
                    if len(self._cache) >= _CACHE_MAX:
                        self._cache.clear()
                        gc.collect()
                    self._cache[cut[1]] = policies
                if isinstance(policies, AWSError):
                    return policies
            return self._authorize(request, policies)
        except AWSError as exc:
            return exc


def _chunks(stream: BinaryIO) -> Iterator[list[bytes]]:
    """The input's lines, a list per read: up to 8 MiB from a file, what has arrived from a pipe."""
    read = getattr(stream, "read1", stream.read)
    rest = b""
    while chunk := read(_CHUNK):
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        yield lines
    if rest:
        yield [rest]


def _decide_lines(chunks: Iterable[list[bytes]], out: BinaryIO, explain: bool) -> None:
    """Decide each non-blank line and write its result line (or trace) to ``out``, in order.

    Output is written after each chunk of input (and every 2,048 lines), so a slow producer on
    a pipe gets its answers as its lines arrive.
    """
    import orjson

    batch = _Batch()
    dumps = orjson.dumps
    buf: list[bytes] = []
    n = n_line = 0
    for lines in chunks:
        for line in lines:
            n_line += 1
            if not line.strip():
                continue
            n += 1
            try:
                result = batch.decide(line)
            except Exception as exc:  # an engine failure on one line must not end the batch
                result = AWSError(
                    f"the request could not be evaluated: {type(exc).__name__}: {exc}",
                    code="PolicyEvaluation",
                )
            if explain:
                buf.append(_explain(n, n_line, result).encode())
            elif isinstance(result, AWSError):
                buf.append(dumps(error_dict(result)) + b"\n")
            else:
                buf.append(dumps(result.to_json()) + b"\n")
            if len(buf) >= 2048:
                out.write(b"".join(buf))
                buf.clear()
                if n % _GC_EVERY < 2048:
                    gc.collect()
        out.write(b"".join(buf))
        buf.clear()
        out.flush()


def _decide_in_two(stream: BinaryIO, out: BinaryIO) -> None:
    """Decide a big input on two cores: a forked child takes the second half of the lines.

    The child writes to an unnamed temporary file and leaves with ``os._exit``; the parent
    decides the first half, then copies the child's lines after its own. Without a child (fork
    failed, or the child did), the parent decides everything itself.
    """
    import os
    import signal
    import tempfile

    lines = stream.read().split(b"\n")
    half = len(lines) // 2
    out.flush()
    with tempfile.TemporaryFile() as spill:
        try:
            pid = os.fork()
        except OSError:
            _decide_lines([lines], out, explain=False)
            return
        if pid == 0:  # pragma: no cover - the child's coverage is not collected
            status = 1
            try:
                _decide_lines([lines[half:]], spill, explain=False)
                status = 0
            finally:
                os._exit(status)
        try:
            _decide_lines([lines[:half]], out, explain=False)
        except BaseException:  # stdout closed (a broken pipe), interrupted ...: stop the child too
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) == 0:
            spill.seek(0)
            while chunk := spill.read(_CHUNK):
                out.write(chunk)
        else:  # the child failed: decide its half here
            _decide_lines([lines[half:]], out, explain=False)
        out.flush()


def run_cli(path: str, explain: bool = False) -> int:
    """Decide every request of a JSON Lines file ('-': stdin); one output line a request.

    A regular file of more than ``_TWO_CORES_FROM`` bytes is decided on two cores when a second
    core is idle: same lines, same order. Returns 0, 1 when stdout was closed early, 2 when the
    file cannot be read.
    """
    import os

    out = sys.stdout.buffer
    try:
        stream: BinaryIO = sys.stdin.buffer if path == "-" else open(path, "rb")
    except OSError as exc:
        print(f"ironkeep simulate: cannot read {path}: {exc.strerror}", file=sys.stderr)
        return 2
    # Deciding makes almost no cyclic garbage (a few hundred objects per 20,000 requests), but the
    # generational collector would walk the cached policy sets again and again: collect rarely.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        two = (
            not explain
            and stream is not sys.stdin.buffer
            and hasattr(os, "fork")
            and _spare_core()
            and os.fstat(stream.fileno()).st_size > _TWO_CORES_FROM
        )
        if two:
            _decide_in_two(stream, out)
        else:
            _decide_lines(_chunks(stream), out, explain)
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly, as Unix tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    finally:
        # The caches are garbage now, but acyclic: refcounting frees them. Freezing what is left
        # spares the collections of interpreter shutdown a walk over every compiled policy set
        # (about 0.9 s of a 2 s run on the benchmark workload).
        gc.freeze()
        if gc_was_enabled:
            gc.enable()
        if stream is not sys.stdin.buffer:
            stream.close()
    return 0


def _spare_core() -> bool:
    """Is a second core free now? (Linux: runnable tasks in /proc/loadavg, this one included.)

    A second process only pays when a core is idle: on a busy machine it adds the cost of
    compiling the policy sets twice. Three samples, the smallest count, so that a passing
    process does not count.
    """
    import time

    cores = _cores()
    if cores < 2:
        return False
    running = []
    for _ in range(3):
        try:
            with open("/proc/loadavg", "rb") as f:
                running.append(int(f.read().split()[3].split(b"/")[0]))
        except (OSError, ValueError, IndexError):
            return True  # no such file: assume the cores are there for us
        time.sleep(0.002)
    return min(running) < cores


def _cores() -> int:
    import os

    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform
        return os.cpu_count() or 1


def _explain(n: int, n_line: int, result: Any) -> str:
    head = f"== request {n} (line {n_line}) =="
    if isinstance(result, AWSError):
        return f"{head}\nerror {result.code}: {result.message}\n\n"
    return f"{head}\n{result.explain().rstrip()}\n\n"
