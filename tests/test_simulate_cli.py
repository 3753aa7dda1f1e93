"""``python3 -m ironkeep simulate`` as a subprocess: stdin and files, order, bad lines, --explain."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

USER = "arn:aws:iam::111122223333:user/alice"


def _request(action: str, *, allow: str = "s3:Get*", **extra: Any) -> dict[str, Any]:
    r: dict[str, Any] = {
        "principal": {"arn": USER},
        "action": action,
        "resource": "arn:aws:s3:::bucket/key",
        "policies": {
            "identity": [
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Sid": "Read", "Effect": "Allow", "Action": allow, "Resource": "*"},
                        {"Sid": "NoDelete", "Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"},
                    ],
                }
            ]
        },
    }
    r.update(extra)
    return r


def _run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "ironkeep", "simulate", *args], input=stdin, capture_output=True, timeout=60
    )


def _lines(out: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.decode().splitlines()]


def test_stdin_one_decision_a_line_in_order() -> None:
    actions = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:GetObjectTagging"] * 3
    data = "".join(json.dumps(_request(a)) + "\n" for a in actions).encode()
    proc = _run("-", stdin=data)
    assert proc.returncode == 0, proc.stderr
    got = [d["decision"] for d in _lines(proc.stdout)]
    expected = {
        "s3:GetObject": "Allow",
        "s3:PutObject": "ImplicitDeny",
        "s3:DeleteObject": "ExplicitDeny",
        "s3:GetObjectTagging": "Allow",
    }
    assert got == [expected[a] for a in actions]
    first = _lines(proc.stdout)[0]
    assert first["matched"] == [{"policy": "identity[0]", "sid": "Read", "effect": "Allow"}]
    assert first["missing_context"] == []


def test_file_argument_and_default_stdin(tmp_path: Path) -> None:
    path = tmp_path / "requests.jsonl"
    path.write_text(json.dumps(_request("s3:DeleteObject")) + "\n" + json.dumps(_request("s3:GetObject")))
    from_file = _run(str(path))
    assert from_file.returncode == 0, from_file.stderr
    assert [d["decision"] for d in _lines(from_file.stdout)] == ["ExplicitDeny", "Allow"]
    from_stdin = _run(stdin=path.read_bytes())  # no FILE argument: stdin
    assert from_stdin.stdout == from_file.stdout


def test_bad_lines_get_error_lines_and_the_batch_goes_on() -> None:
    malformed = _request("s3:GetObject")
    malformed["policies"]["identity"][0]["Statement"][0]["Effect"] = "Permit"
    lines = [
        json.dumps(_request("s3:GetObject")),
        "{this is not json",
        json.dumps(malformed),
        json.dumps({"principal": {"arn": USER}, "resource": "*"}),
        "",
        json.dumps(_request("s3:PutObject", allow="s3:*")),
        "[1, 2, 3]",
    ]
    proc = _run("-", stdin=("\n".join(lines) + "\n").encode())
    assert proc.returncode == 0, proc.stderr
    out = _lines(proc.stdout)
    assert len(out) == 6  # the blank line is not a request
    assert out[0]["decision"] == "Allow"
    assert out[1]["error"]["code"] == "InvalidInput" and "JSON" in out[1]["error"]["message"]
    assert out[2]["error"]["code"] == "MalformedPolicyDocument"
    assert "policies.identity[0]" in out[2]["error"]["message"]
    assert out[3]["error"]["code"] == "InvalidInput" and "action" in out[3]["error"]["message"]
    assert out[4]["decision"] == "Allow"
    assert out[5]["error"]["code"] == "InvalidInput"


def test_same_policies_many_lines_and_key_orders() -> None:
    # The runner caches compiled policy sets by their JSON text; a line whose "policies" member is
    # not last takes the ordinary path and must decide the same.
    r = _request("s3:GetObject")
    reordered = {"policies": r["policies"], **{k: v for k, v in r.items() if k != "policies"}}
    spaced = json.dumps(r, indent=None, separators=(" , ", " : "))
    data = "\n".join([json.dumps(r), json.dumps(reordered), spaced, json.dumps(r)]).encode()
    proc = _run(stdin=data)
    out = _lines(proc.stdout)
    assert [d["decision"] for d in out] == ["Allow"] * 4
    assert out[0] == out[1] == out[2] == out[3]


def test_explain_prints_a_readable_trace() -> None:
    lines = [json.dumps(_request("s3:DeleteObject")), "nope", json.dumps(_request("s3:GetObject"))]
    proc = _run("--explain", stdin="\n".join(lines).encode())
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout.decode()
    assert "== request 1 (line 1) ==" in text and "== request 3 (line 3) ==" in text
    first, second, third = text.split("== request ")[1:]
    assert "ExplicitDeny" in first and "NoDelete" in first
    assert "error InvalidInput" in second
    assert "Allow" in third and "s3:GetObject" in third
    assert not text.lstrip().startswith("{")  # a trace for people, not JSON


def test_missing_file_is_reported_on_stderr(tmp_path: Path) -> None:
    proc = _run(str(tmp_path / "nope.jsonl"))
    assert proc.returncode == 2
    assert b"cannot read" in proc.stderr
    assert proc.stdout == b""


def test_a_big_file_decided_on_two_cores_matches_stdin(tmp_path: Path) -> None:
    # More than 16 MiB: the runner forks and decides the second half in a child process.
    actions = [
        f"s3:{verb}{noun}"
        for verb in ("Get", "Put", "Delete", "List")
        for noun in ("Object", "Bucket", "Tagging")
    ]
    filler = [f"ec2:Describe{n:04d}" for n in range(300)]
    lines = []
    for i in range(3000):
        r = _request(actions[i % len(actions)], allow=["s3:Get*", "s3:List*", *filler])
        r["resource"] = f"arn:aws:s3:::bucket/{i}"
        lines.append(json.dumps(r))
    lines[2100] = "{broken"  # bad lines on the child's side too
    lines[2500] = json.dumps(_request("s3:GetObject", allow="GetObject"))
    path = tmp_path / "big.jsonl"
    path.write_text("\n".join(lines) + "\n")
    assert path.stat().st_size > 1 << 24
    from_file = _run(str(path))
    from_stdin = _run("-", stdin=path.read_bytes())
    assert from_file.returncode == from_stdin.returncode == 0
    assert from_file.stdout == from_stdin.stdout
    out = _lines(from_file.stdout)
    assert len(out) == 3000
    assert out[2100]["error"]["code"] == "InvalidInput"
    assert out[2500]["error"]["code"] == "MalformedPolicyDocument"
    assert [d["decision"] for d in out[:12]] == [
        "Allow"
        if a.startswith(("s3:Get", "s3:List"))
        else "ExplicitDeny"
        if a == "s3:DeleteObject"
        else "ImplicitDeny"
        for a in actions
    ]


def test_a_reader_that_goes_away_ends_the_run_quietly(tmp_path: Path) -> None:
    path = tmp_path / "many.jsonl"
    path.write_text("\n".join(json.dumps(_request("s3:GetObject")) for _ in range(5000)) + "\n")
    with path.open("rb") as stdin:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ironkeep", "simulate", "-"],
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert proc.stdout is not None and proc.stderr is not None
        assert json.loads(proc.stdout.readline())["decision"] == "Allow"
        proc.stdout.close()  # like `| head -1`
        assert proc.wait(timeout=60) == 1
        assert b"Traceback" not in proc.stderr.read()
        proc.stderr.close()


def test_answers_come_as_lines_arrive_on_a_pipe() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "ironkeep", "simulate"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        for action, decision in [("s3:GetObject", "Allow"), ("s3:DeleteObject", "ExplicitDeny")]:
            proc.stdin.write((json.dumps(_request(action)) + "\n").encode())
            proc.stdin.flush()  # stdin stays open: the answer must not wait for EOF
            assert json.loads(proc.stdout.readline())["decision"] == decision
    finally:
        proc.stdin.close()
        assert proc.wait(timeout=60) == 0
        proc.stdout.close()
        if proc.stderr:
            proc.stderr.close()


def test_the_two_process_split_writes_what_one_process_writes(tmp_path: Path) -> None:
    # The CLI takes this path for a big file when a second core is idle; here it is taken always.
    import io

    from ironkeep.simulate import _chunks, _decide_in_two, _decide_lines

    lines = [json.dumps(_request(a)) for a in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject")] * 300
    lines[5] = "not json"
    lines[700] = ""
    path = tmp_path / "r.jsonl"
    path.write_text("\n".join(lines) + "\n")
    two, one = io.BytesIO(), io.BytesIO()
    with path.open("rb") as f:
        _decide_in_two(f, two)
    with path.open("rb") as f:
        _decide_lines(_chunks(f), one, explain=False)
    assert two.getvalue() == one.getvalue()
    assert two.getvalue().count(b"\n") == 899
