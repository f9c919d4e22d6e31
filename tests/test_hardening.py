"""Hostile input, engine faults and signals: one clear line and exit 2, nothing leaked or left."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from soc2opa.evidence.store import read as read_evidence
from tests.conftest import BUNDLE, SOC2OPA, Run, change, outcome, write_plan
from tests.test_engines import _serve

SECRET = "hunter2-top-secret"
PLAN = {
    "format_version": "1.2",
    "terraform_version": "1.9.5",
    "resource_changes": [
        change("aws_db_instance.db", "aws_db_instance", {"storage_encrypted": False})
    ],
}
PLAN_TEXT = json.dumps(PLAN)


def one_line_error(proc: subprocess.CompletedProcess[str], *fragments: str) -> str:
    """The single stderr line of a refused run (exit 2, nothing on stdout, no traceback)."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout[:300], proc.stderr)
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("soc2opa: error: "), lines[0]
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def opa_server(opa: Path) -> Iterator[str]:
    yield from _serve(opa, "--bundle", str(BUNDLE))


# --- 1. strict JSON, whichever engine runs -----------------------------------------------

NOT_STRICT_JSON: dict[str, tuple[bytes, str]] = {
    "nan": (PLAN_TEXT.replace('"1.9.5"', "NaN").encode(), "NaN is not a JSON number"),
    "infinity": (PLAN_TEXT.replace('"1.9.5"', "-Infinity").encode(), "not a JSON number"),
    "comment": (b"// plan\n" + PLAN_TEXT.encode(), "not JSON"),
    "block_comment": (PLAN_TEXT.replace(", ", ", /* x */ ", 1).encode(), "not valid JSON"),
    "single_quotes": (PLAN_TEXT.replace('"1.9.5"', "'1.9.5'").encode(), "not valid JSON"),
    "trailing_comma": (PLAN_TEXT[:-1].encode() + b", }", "not valid JSON"),
    "yaml_flow": (b'{format_version: "1.2", resource_changes: []}', "not valid JSON"),
    "yaml_block": (b"format_version: '1.2'\nresource_changes: []\n", "not JSON"),
    "invalid_utf8": (PLAN_TEXT.replace("1.9.5", "1.9.\xff").encode("latin-1"), "not valid UTF-8"),
    "huge_integer": (PLAN_TEXT.replace('"1.9.5"', "9" * 5000).encode(), "more than 1000 digits"),
    "huge_float": (PLAN_TEXT.replace('"1.9.5"', "1e400").encode(), "too large"),
    "trailing_garbage": (PLAN_TEXT.encode() + b" garbage", "unexpected data after the end"),
    "second_document": (PLAN_TEXT.encode() * 2, "unexpected data after the end"),
    "raw_control_char": (PLAN_TEXT.replace("1.9.5", "1.9\x01.5").encode(), "not valid JSON"),
    "deep": (b'{"format_version": "1.2", "x": ' + b"[" * 3000 + b"]" * 3000 + b"}", "limit"),
    "deep_unclosed": (b'{"format_version": "1.2", "x": ' + b"[" * 3000, "limit is 256"),
}


@pytest.mark.parametrize("kind", sorted(NOT_STRICT_JSON))
@pytest.mark.parametrize("engine", ["local", "remote"])
def test_non_json_is_refused_by_both_engines(
    run: Run, tmp_path: Path, opa_server: str, kind: str, engine: str
) -> None:
    data, fragment = NOT_STRICT_JSON[kind]
    path = tmp_path / "plan.json"
    path.write_bytes(data)
    extra = ("--opa-url", opa_server) if engine == "remote" else ()
    line = one_line_error(run("eval", str(path), *extra), str(path), fragment)
    assert "9999999999" not in line


def test_trailing_garbage_is_not_called_truncated(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text(PLAN_TEXT + "\n}")
    line = one_line_error(run("eval", str(path)), "unexpected data after the end")
    assert "truncated" not in line


@pytest.mark.parametrize(
    "encoding", ["utf-32", "utf-32-le", "utf-32-be", "utf-16-be", "utf-16-le", "utf-8-sig"]
)
def test_every_unicode_encoding_gives_the_same_verdict(
    run: Run, tmp_path: Path, encoding: str
) -> None:
    path = tmp_path / "plan.json"
    path.write_bytes(PLAN_TEXT.encode(encoding))
    proc = run("eval", str(path), "--format", "json")
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert outcome(report, "rds_instance_storage_encrypted", "aws_db_instance.db") == "fail"


# --- 2. files, devices, pipes, options: one line naming the problem -----------------------


def test_devices_are_refused_without_reading(run: Run) -> None:
    for device in ("/dev/zero", "/dev/urandom"):
        one_line_error(run("eval", device, "--timeout", "5"), device, "device")


def test_a_fifo_is_read_and_judged(run: Run, tmp_path: Path) -> None:
    fifo = tmp_path / "plan.fifo"
    os.mkfifo(fifo)

    def writer() -> None:
        with open(fifo, "w") as handle:
            handle.write(PLAN_TEXT)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    proc = run("eval", str(fifo), "--format", "json", "--control", "rds_instance_storage_encrypted")
    thread.join(5)
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)["summary"]["failing"] == 1


def test_a_fifo_without_writer_is_not_waited_for_beyond_the_timeout(
    run: Run, tmp_path: Path
) -> None:
    fifo = tmp_path / "plan.fifo"
    os.mkfifo(fifo)
    started = time.monotonic()
    one_line_error(run("eval", str(fifo), "--timeout", "1"), str(fifo), "within the timeout")
    assert time.monotonic() - started < 10


def test_symlink_loop_and_dangling_link(run: Run, tmp_path: Path) -> None:
    loop = tmp_path / "loop.json"
    loop.symlink_to(loop)
    one_line_error(run("eval", str(loop)), str(loop), "symbolic link loop")
    dangling = tmp_path / "dangling.json"
    dangling.symlink_to(tmp_path / "gone.json")
    one_line_error(run("eval", str(dangling)), str(dangling), "does not exist")
    not_dir = tmp_path / "file"
    not_dir.write_text("x")
    one_line_error(run("eval", str(not_dir / "plan.json")), "not a folder")


def test_unreadable_folder_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests run as root, for whom permissions do not apply; the OS error is simulated.
    from soc2opa import planfile
    from soc2opa.errors import InputError

    def denied(*_: Any, **__: Any) -> int:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(planfile.os, "open", denied)
    with pytest.raises(InputError, match="permission denied"):
        planfile.read_bytes(tmp_path / "locked" / "plan.json")


def test_size_limit_is_checked_before_reading(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from soc2opa import planfile
    from soc2opa.errors import InputError

    path = tmp_path / "plan.json"
    path.write_text(PLAN_TEXT)
    monkeypatch.setattr(planfile, "MAX_PLAN_BYTES", 100)
    with pytest.raises(InputError, match="larger than the limit"):
        planfile.read_bytes(path)
    sparse = tmp_path / "sparse.json"
    with open(sparse, "wb") as handle:
        handle.truncate(300 * 1024 * 1024)
    one_line_error(run("eval", str(sparse)), "larger than the limit of 256 MiB")


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1", "0", "1e9", "abc", " "])
def test_bad_timeout(run: Run, tmp_path: Path, value: str) -> None:
    path = write_plan(tmp_path / "plan.json", PLAN["resource_changes"])
    one_line_error(run("eval", str(path), "--timeout", value), "--timeout")


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("http://127.0.0.1:99999", "port"),
        ("http://127.0.0.1:8181 ", "spaces or control characters"),
        ("http://127.0.0.1:0", "port 0"),
        ("http://127.0.0.1:x", "port"),
        ("ftp://127.0.0.1", "not an http(s) URL"),
        ("http://127.0.0.1:8181/v1/data", "has a path"),
        ("http://[::1", "invalid host"),
        ("http://\x1b]0;owned\x07127.0.0.1", "control characters"),
    ],
)
def test_bad_opa_url(run: Run, tmp_path: Path, url: str, fragment: str) -> None:
    path = write_plan(tmp_path / "plan.json", PLAN["resource_changes"])
    line = one_line_error(run("eval", str(path), "--opa-url", url), "--opa-url", fragment)
    assert "\x1b" not in line


def test_full_disk_on_stdout(tmp_path: Path, opa: Path) -> None:
    path = write_plan(tmp_path / "plan.json", PLAN["resource_changes"])
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [str(SOC2OPA), "eval", str(path)],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "SOC2OPA_OPA": str(opa)},
            timeout=120,
        )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert "No space left on device" in proc.stderr and "Traceback" not in proc.stderr


# --- 3. what OPA says is surfaced, and blamed on the right thing --------------------------


def test_truncated_bundle_is_blamed_on_the_bundle(run: Run, tmp_path: Path) -> None:
    path = write_plan(tmp_path / "plan.json", PLAN["resource_changes"])
    bundle = tmp_path / "cut.tar.gz"
    bundle.write_bytes(BUNDLE.read_bytes()[:400])
    line = one_line_error(run("eval", str(path), "--bundle", str(bundle)))
    assert f"{bundle}: OPA cannot use this bundle" in line
    assert "no message" not in line


def test_bundle_that_does_not_compile(run: Run, tmp_path: Path, opa: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "x.rego").write_text("package soc2opa.main\n\nreport := {\n")
    bundle = tmp_path / "bad.tar.gz"
    subprocess.run([str(opa), "build", "-b", str(src), "-o", str(bundle)], check=False)
    if not bundle.exists():
        bundle.write_bytes(b"\x1f\x8b not really a bundle")
    path = write_plan(tmp_path / "plan.json", PLAN["resource_changes"])
    one_line_error(run("eval", str(path), "--bundle", str(bundle)), str(bundle), "bundle")


def test_bundle_without_the_report_rule_is_blamed_on_the_bundle(
    run: Run, tmp_path: Path, opa: Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "x.rego").write_text("package other\n\nallow := true\n")
    bundle = tmp_path / "other.tar.gz"
    subprocess.run([str(opa), "build", "-b", str(src), "-o", str(bundle)], check=True)
    path = write_plan(tmp_path / "plan.json", PLAN["resource_changes"])
    one_line_error(
        run("eval", str(path), "--bundle", str(bundle)),
        f"{bundle}: the bundle has no data.soc2opa.main.report",
    )


def test_two_changes_at_one_address_name_the_address(
    run: Run, tmp_path: Path, opa_server: str
) -> None:
    twice = change("aws_s3_bucket.dup", "aws_s3_bucket", {"bucket": "a"})
    path = write_plan(tmp_path / "plan.json", [twice, twice])
    for extra in ((), ("--opa-url", opa_server)):
        one_line_error(run("eval", str(path), *extra), str(path), "aws_s3_bucket.dup")


# --- 4. terminal injection -----------------------------------------------------------------

HOSTILE = "evil\x1b]0;pwned\x07\x1b[2J\u202e\x9b31m\nFAIL forged line\r"


def _assert_terminal_safe(text: str) -> None:
    for bad in ("\x1b", "\x07", "\x9b", "\u202e", "\r"):
        assert bad not in text
    assert "\nFAIL forged line" not in text


def test_plan_strings_are_escaped_in_text_and_exact_in_json(run: Run, tmp_path: Path) -> None:
    address = f'aws_db_instance.db["{HOSTILE}"]'
    rc = change(address, "aws_db_instance", {"storage_encrypted": False})
    path = tmp_path / "plan\x1b[31m.json"
    write_plan(path, [rc], terraform_version=HOSTILE)
    text = run("eval", str(path))
    assert text.returncode == 1, text.stderr
    _assert_terminal_safe(text.stdout)
    assert "\\x1b]0;pwned" in text.stdout and "\\u202e" in text.stdout
    report = json.loads(run("eval", str(path), "--format", "json").stdout)
    assert report["plan"]["terraform_version"] == HOSTILE
    assert outcome(report, "rds_instance_storage_encrypted", address) == "fail"
    out = tmp_path / "report.txt"
    assert run("eval", str(path), "-o", str(out)).returncode == 1
    _assert_terminal_safe(out.read_text())


def test_error_messages_escape_and_shorten_plan_strings(run: Run, tmp_path: Path) -> None:
    path = tmp_path / f"x{HOSTILE}.json"
    path.write_text(json.dumps({**PLAN, "format_version": "9" + HOSTILE * 50}))
    line = one_line_error(run("eval", str(path)), "unsupported plan format_version")
    _assert_terminal_safe(line)
    assert len(line) < 600


def test_untrusted_escape() -> None:
    from soc2opa.untrusted import escape, excerpt

    assert escape('module.a["b"].aws_s3_bucket.c') == 'module.a["b"].aws_s3_bucket.c'
    assert escape("caf\u00e9 \u4e2d") == "caf\u00e9 \u4e2d"
    assert escape("a\nb\tc\x1b[0m\x9b\u202e\u2066\u200b\u2028\ud800") == (
        "a\\nb\\tc\\x1b[0m\\x9b\\u202e\\u2066\\u200b\\u2028\\ud800"
    )
    assert excerpt("x" * 100, 10) == "x" * 9 + "\u2026"
    assert escape(escape("\x1b")) == "\\x1b"


# --- 6. credentials in --opa-url ------------------------------------------------------------


class _Recorder(BaseHTTPRequestHandler):
    """A fake OPA server: records what it was sent, answers what the test says."""

    seen: list[dict[str, Any]]
    answer: Callable[[BaseHTTPRequestHandler], None]

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        self.seen.append({"headers": dict(self.headers), "body": self.rfile.read(length)})
        type(self).answer(self)

    def log_message(self, *_: Any) -> None:
        pass


def _json_answer(status: int, body: bytes) -> Callable[[BaseHTTPRequestHandler], None]:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        # The client may hang up first, e.g. on an answer it refuses as too large.
        with contextlib.suppress(ConnectionError):
            handler.wfile.write(body)

    return answer


def _trickle(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", "100000")
    handler.end_headers()
    try:
        for _ in range(600):
            handler.wfile.write(b" ")
            handler.wfile.flush()
            time.sleep(0.1)
    except OSError:
        pass


@pytest.fixture
def fake_server() -> Iterator[Callable[..., tuple[str, list[dict[str, Any]]]]]:
    servers: list[ThreadingHTTPServer] = []

    def start(answer: Callable[[BaseHTTPRequestHandler], None]) -> tuple[str, list[Any]]:
        seen: list[dict[str, Any]] = []
        handler = type("Handler", (_Recorder,), {"seen": seen, "answer": staticmethod(answer)})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}", seen

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_credentials_are_sent_as_basic_auth_and_never_shown(
    run: Run, tmp_path: Path, opa_server: str, fake_server: Any
) -> None:
    path = write_plan(tmp_path / "plan.json", PLAN["resource_changes"])
    url, seen = fake_server(_json_answer(500, b'{"code": "internal_error", "message": "boom"}'))
    with_creds = url.replace("http://", "http://alice:s3cr%40t-pass@")
    line = one_line_error(run("eval", str(path), "--opa-url", with_creds), "answered 500", "boom")
    assert "s3cr" not in line and "alice" not in line
    assert seen[0]["headers"]["Authorization"] == "Basic YWxpY2U6czNjckB0LXBhc3M="
    # A real server ignores the header; the report stores the URL without credentials.
    real = opa_server.replace("http://", "http://alice:s3cr%40t-pass@")
    proc = run("eval", str(path), "--opa-url", real, "--format", "json")
    assert proc.returncode == 1, proc.stderr
    assert "s3cr" not in proc.stdout and "alice" not in proc.stdout
    assert json.loads(proc.stdout)["bundle"]["source"] == opa_server
    both = run("eval", str(path), "--opa-url", with_creds, env={"SOC2OPA_OPA_TOKEN": "t"})
    assert "not both" in one_line_error(both)


# --- 7. remote engine: a total deadline, an untrusted answer --------------------------------


def test_trickling_server_is_cut_at_the_deadline(
    run: Run, tmp_path: Path, fake_server: Any
) -> None:
    path = write_plan(tmp_path / "plan.json", PLAN["resource_changes"])
    url, _ = fake_server(_trickle)
    started = time.monotonic()
    one_line_error(run("eval", str(path), "--opa-url", url, "--timeout", "2"), "within 2s")
    assert time.monotonic() - started < 15


WRONG_ANSWERS = {
    "list": b"[1, 2]",
    "result_list": b'{"result": [1]}',
    "controls_list": b'{"result": {"controls": [], "problems": [], "plan": {}}}',
    "bad_severity": json.dumps({"result": {"problems": [], "plan": {}, "controls": {"x": {
        "meta": {"custom": {"id": "x", "severity": "apocalyptic"}}}}}}).encode(),
    "message_number": json.dumps({"result": {"problems": [], "plan": {}, "controls": {"x": {
        "meta": {"custom": {"id": "x"}}, "fail": {"a.b": 3}}}}}).encode(),
    "problems_dict": b'{"result": {"controls": {}, "problems": {"a": 1}, "plan": {}}}',
    "not_json": b"<html>hello</html>",
    "deep": b'{"result": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    "huge_number": b'{"result": ' + b"9" * 5000 + b"}",
    "no_result": b"{}",
}  # fmt: skip


@pytest.mark.parametrize("kind", sorted(WRONG_ANSWERS))
def test_remote_answer_of_the_wrong_shape(
    run: Run, tmp_path: Path, fake_server: Any, kind: str
) -> None:
    path = write_plan(tmp_path / "plan.json", PLAN["resource_changes"])
    url, _ = fake_server(_json_answer(200, WRONG_ANSWERS[kind]))
    one_line_error(run("eval", str(path), "--opa-url", url), "OPA server")


def _endless(handler: BaseHTTPRequestHandler) -> None:
    """An answer without a length that never ends (until the client stops reading)."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.end_headers()
    try:
        handler.wfile.write(b'{"result": "')
        for _ in range(100_000):
            handler.wfile.write(b"x" * 65536)
    except OSError:
        pass


@pytest.mark.parametrize("declared", [True, False])
def test_an_answer_longer_than_the_limit_is_not_read(
    tmp_path: Path, fake_server: Any, monkeypatch: pytest.MonkeyPatch, declared: bool
) -> None:
    from soc2opa import engine
    from soc2opa.errors import EngineError
    from soc2opa.planfile import open_plan

    monkeypatch.setattr(engine, "ANSWER_BASE_BYTES", 1 << 20)
    path = write_plan(tmp_path / "plan.json", PLAN["resource_changes"])
    big = b'{"result": "' + b"x" * (4 << 20) + b'"}'
    url, _ = fake_server(_json_answer(200, big) if declared else _endless)
    started = time.monotonic()
    with open_plan(path) as plan, pytest.raises(EngineError, match="answered more than 1 MiB"):
        engine.RemoteEngine(url, timeout=60).evaluate(plan)
    assert time.monotonic() - started < 30
    assert engine.answer_limit(10) == (1 << 20) + 80


def test_the_plan_is_posted_as_it_was_read(run: Run, tmp_path: Path, fake_server: Any) -> None:
    path = tmp_path / "plan.json"
    path.write_bytes(json.dumps(PLAN, indent=3).encode())
    url, seen = fake_server(_json_answer(500, b"not json"))
    one_line_error(run("eval", str(path), "--opa-url", url), "answered 500")
    assert seen[0]["body"] == b'{"input":' + path.read_bytes() + b"}"
    assert seen[0]["headers"]["Content-Type"] == "application/json"


# --- 8. process hygiene ---------------------------------------------------------------------


def _fake_opa(tmp_path: Path, body: str) -> Path:
    fake = tmp_path / "fake-opa"
    fake.write_text("#!/bin/sh\n" + body + "\n")
    fake.chmod(0o755)
    return fake


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as handle:
        return handle.read().split()[2] != "Z"


def _wait_dead(pid: int) -> bool:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_timeout_kills_the_whole_process_group(run: Run, tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    fake = _fake_opa(tmp_path, f"sleep 300 & echo $! > {pidfile}; wait")
    path = write_plan(tmp_path / "plan.json", PLAN["resource_changes"])
    one_line_error(
        run("eval", str(path), "--opa-path", str(fake), "--timeout", "1"), "timed out after 1s"
    )
    assert _wait_dead(int(pidfile.read_text())), "opa's child survived the timeout"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_signals_stop_opa_and_leave_nothing(tmp_path: Path, signum: int, opa: Path) -> None:
    pidfile = tmp_path / "child.pid"
    fake = _fake_opa(tmp_path, f"echo $$ > {pidfile}; sleep 300 & wait")
    path = tmp_path / "plan.json"
    path.write_bytes(PLAN_TEXT.encode("utf-16"))
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    proc = subprocess.Popen(
        [str(SOC2OPA), "eval", str(path), "--opa-path", str(fake)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TMPDIR": str(tmpdir)},
    )
    deadline = time.monotonic() + 20
    while not pidfile.exists() or not pidfile.read_text().strip():
        assert time.monotonic() < deadline, "the fake opa never started"
        time.sleep(0.05)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 128 + signum
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    pid = int(pidfile.read_text())
    assert _wait_dead(pid), Path(f"/proc/{pid}/status").read_text()[:300]
    assert list(tmpdir.iterdir()) == []


# --- 9. --output ------------------------------------------------------------------------------


def test_output_is_replaced_atomically_and_kept_on_failure(run: Run, tmp_path: Path) -> None:
    path = write_plan(tmp_path / "plan.json", PLAN["resource_changes"])
    out = tmp_path / "report.json"
    out.write_text("previous report")
    before = out.stat().st_ino
    only = ("--control", "rds_instance_storage_encrypted")
    assert run("eval", str(path), "--format", "json", "-o", str(out), *only).returncode == 1
    assert out.stat().st_ino != before, "the report was written in place"
    assert json.loads(out.read_text())["summary"]["failing"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.json", "report.json"]
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    one_line_error(run("eval", str(broken), "-o", str(out), *only), "truncated")
    assert json.loads(out.read_text())["summary"]["failing"] == 1


def test_output_onto_the_plan_is_refused(run: Run, tmp_path: Path) -> None:
    path = write_plan(tmp_path / "plan.json", PLAN["resource_changes"])
    original = path.read_text()
    one_line_error(run("eval", str(path), "-o", str(path)), "--output", "is a plan being judged")
    link = tmp_path / "link.json"
    link.symlink_to(path)
    one_line_error(run("eval", str(path), "-o", str(link)), "is a plan being judged")
    assert path.read_text() == original


def test_output_to_a_device_is_written_not_replaced(run: Run, tmp_path: Path) -> None:
    path = write_plan(tmp_path / "plan.json", PLAN["resource_changes"])
    proc = run("eval", str(path), "-o", "/dev/null")
    assert proc.returncode == 1 and proc.stderr == ""
    assert os.path.exists("/dev/null") and not os.path.isfile("/dev/null")


# --- 12. which opa runs -----------------------------------------------------------------------


def test_opa_from_the_current_directory_is_never_run(run: Run, tmp_path: Path, opa: Path) -> None:
    marker = tmp_path / "ran"
    repo = tmp_path / "repo"
    (repo / ".tools" / "bin").mkdir(parents=True)
    _fake_opa(repo / ".tools" / "bin", f"touch {marker}; exit 3").rename(
        repo / ".tools" / "bin" / "opa"
    )
    path = write_plan(repo / "plan.json", PLAN["resource_changes"])
    env = {"PATH": f"{opa.parent}:/usr/bin:/bin", "SOC2OPA_OPA": ""}
    proc = run("eval", "plan.json", "--format", "json", env=env, cwd=repo)
    assert proc.returncode == 1, proc.stderr
    assert not marker.exists()
    assert path.exists() and json.loads(proc.stdout)["opa"]["version"] == "1.22.2"


def test_older_opa_is_refused(run: Run, tmp_path: Path, opa: Path) -> None:
    path = write_plan(tmp_path / "plan.json", PLAN["resource_changes"])
    fake = _fake_opa(
        tmp_path,
        'if [ "$1" = version ]; then echo "Version: 0.60.0"; exit 0; fi\n'
        'echo \'{"errors": [{"code": "rego_parse_error", "message": "unexpected keyword"}]}\'\n'
        "exit 1",
    )
    one_line_error(
        run("eval", str(path), "--opa-path", str(fake)), "0.60.0", "older than the 1.0.0"
    )


def test_text_header_names_the_opa_that_ran(run: Run, tmp_path: Path, opa: Path) -> None:
    path = write_plan(tmp_path / "plan.json", PLAN["resource_changes"])
    header = run("eval", str(path)).stdout.splitlines()[0]
    assert f"(OPA 1.22.2, {opa})" in header


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [("bundle", "evil.tar.gz", "use --bundle or $SOC2OPA_BUNDLE"),
     ("opa_path", "/bin/true", "use --opa-path or $SOC2OPA_OPA")],
)  # fmt: skip
def test_a_config_file_cannot_choose_the_bundle_or_the_opa(
    run: Run, tmp_path: Path, key: str, value: str, fragment: str
) -> None:
    # The repository under review must not pick the policy or the program that judges it.
    write_plan(tmp_path / "plan.json", PLAN["resource_changes"])
    (tmp_path / ".soc2opa.yaml").write_text(f"fail_on: low\n{key}: {value}\n")
    line = one_line_error(run("eval", "plan.json", cwd=tmp_path), ".soc2opa.yaml", fragment)
    assert f"{key} cannot be set in a config file" in line
    doctor = run("doctor", cwd=tmp_path)
    assert doctor.returncode == 1 and f"{key} cannot be set in a config file" in doctor.stdout
    flagged = run("eval", "plan.json", "--no-config", "--bundle", str(BUNDLE), cwd=tmp_path)
    assert flagged.returncode == 1, flagged.stderr


def test_the_waivers_file_is_always_named_with_who_chose_it(run: Run, tmp_path: Path) -> None:
    write_plan(tmp_path / "plan.json", PLAN["resource_changes"])
    waivers = tmp_path / "w.yaml"
    waivers.write_text(
        "waivers:\n- control: '*'\n  resource: aws_db_instance.db\n  reason: legacy\n"
        "  owner: '@dba'\n  expires: 2999-01-01\n"
    )
    digest = hashlib.sha256(waivers.read_bytes()).hexdigest()
    (tmp_path / ".soc2opa.yaml").write_text("waivers: w.yaml\n")
    store = tmp_path / "evidence.db"
    proc = run("eval", "plan.json", "--format", "json", "-o", "text=report.txt",
               "--evidence", str(store), cwd=tmp_path)  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr
    named = json.loads(proc.stdout)["waivers"]
    config = str(tmp_path / ".soc2opa.yaml")
    assert named["file"] == str(waivers) and named["from"] == config
    assert named["sha256"] == digest and named["waived"] >= 1
    header = (tmp_path / "report.txt").read_text().splitlines()[1]
    assert header == f"waivers: {waivers} (chosen by {config}, sha256 {digest[:12]})"
    (record,) = [r.record for r in read_evidence(store) if r.kind == "plan"]
    assert record["settings"]["waivers_file"] == {"path": str(waivers), "from": config,
                                                  "sha256": digest}  # fmt: skip
    # Given on the command line, the same file is named as chosen by --waivers, even when it
    # waives nothing.
    waivers.write_text("waivers: []\n")
    flagged = run("eval", "plan.json", "--format", "json", "--waivers", "w.yaml", cwd=tmp_path)
    assert flagged.returncode == 1
    assert json.loads(flagged.stdout)["waivers"]["from"] == "--waivers"


# --- 5. sensitive values: any marking hides them, and an OPA server's logs never hold them ----


@pytest.mark.parametrize(
    "marking",
    [
        {"after_sensitive": True},
        {"after_sensitive": {}, "before_sensitive": {"storage_encrypted": True}},
        {"after_sensitive": {}, "planned_values": True},
    ],
    ids=["after_sensitive_true", "before_sensitive_only", "sensitive_values_only"],
)
def test_every_sensitive_marking_hides_the_value(
    run: Run, tmp_path: Path, marking: dict[str, Any]
) -> None:
    rc = change("aws_db_instance.db", "aws_db_instance", {"storage_encrypted": SECRET})
    rc["change"].update({k: v for k, v in marking.items() if k != "planned_values"})
    extra: dict[str, Any] = {}
    if "planned_values" in marking:
        extra["planned_values"] = {"root_module": {"resources": [{
            "address": "aws_db_instance.db", "mode": "managed", "type": "aws_db_instance",
            "name": "db", "values": {}, "sensitive_values": {"storage_encrypted": True}}]}}  # fmt: skip
    path = write_plan(tmp_path / "plan.json", [rc], **extra)
    for fmt in ("text", "json"):
        proc = run("eval", str(path), "--format", fmt)
        assert proc.returncode == 1, proc.stderr
        assert SECRET not in proc.stdout + proc.stderr
        assert "(sensitive)" in proc.stdout


def test_opa_server_decision_logs_hold_no_plan(run: Run, tmp_path: Path, opa: Path) -> None:
    rc = change("aws_db_instance.db", "aws_db_instance", {"password": SECRET, "engine": "x"})
    path = write_plan(tmp_path / "plan.json", [rc])
    log = tmp_path / "opa.log"
    port_holder = socket.socket()
    port_holder.bind(("127.0.0.1", 0))
    port = port_holder.getsockname()[1]
    port_holder.close()
    with open(log, "wb") as sink:
        server = subprocess.Popen(
            [str(opa), "run", "--server", "--addr", f"127.0.0.1:{port}", "--bundle", str(BUNDLE),
             "--set", "decision_logs.console=true", "--log-level", "info"],
            stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/health?bundles", timeout=1) as resp:
                        if resp.status == 200:
                            break
                except OSError:
                    pass
                assert time.monotonic() < deadline and server.poll() is None, log.read_text()
                time.sleep(0.1)
            proc = run("eval", str(path), "--opa-url", url, "--format", "json")
            assert proc.returncode in (0, 1), proc.stderr
            deadline = time.monotonic() + 15
            while b'"decision_id"' not in log.read_bytes():
                assert time.monotonic() < deadline, "no decision was logged"
                time.sleep(0.1)
        finally:
            server.terminate()
            server.wait(timeout=10)
    logged = log.read_text()
    assert SECRET not in logged
    assert '"soc2opa_masked":true' in logged.replace(" ", "")
    assert "sha256" in logged


# --- 10. nothing is dropped silently -------------------------------------------------------


def test_change_without_mode_is_an_input_error(run: Run, tmp_path: Path) -> None:
    rc = change("aws_db_instance.db", "aws_db_instance", {"storage_encrypted": False})
    del rc["mode"]
    path = write_plan(tmp_path / "plan.json", [rc])
    one_line_error(run("eval", str(path)), "resource_changes[0] is not a resource change")


def test_planned_values_resources_deeper_than_seven_modules(run: Run, tmp_path: Path) -> None:
    module: dict[str, Any] = {"address": "module.m9", "resources": [{
        "address": "module.m9.aws_db_instance.db", "mode": "managed", "type": "aws_db_instance",
        "name": "db", "values": {"storage_encrypted": False, "multi_az": False}}]}  # fmt: skip
    for _ in range(9):
        module = {"child_modules": [module]}
    path = tmp_path / "plan.json"
    path.write_text(
        json.dumps({"format_version": "1.2", "planned_values": {"root_module": module}})
    )
    proc = run("eval", str(path), "--format", "json")
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert report["plan"]["resources_judged"] == 1
    assert outcome(report, "rds_instance_multi_az", "module.m9.aws_db_instance.db") == "fail"


def test_create_without_planned_values_is_unknown_with_a_warning(run: Run, tmp_path: Path) -> None:
    rc = change("aws_db_instance.db", "aws_db_instance", {})
    rc["change"]["after"] = None
    path = write_plan(tmp_path / "plan.json", [rc])
    only = ("--control", "rds_instance_storage_encrypted")
    proc = run("eval", str(path), "--format", "json", *only)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    result = next(r for r in report["results"] if r["resource_address"] == "aws_db_instance.db")
    assert result["status"] == "unknown"
    assert "change.after is null" in result["message"]
    assert any("aws_db_instance.db: change.after is null" in w for w in report["warnings"])


class _SlowNoReport(_Recorder):
    """Answers the report query late and without a result, then trickles its health answer."""

    def do_GET(self) -> None:
        _trickle(self)


def test_health_question_stays_within_the_deadline(run: Run, tmp_path: Path) -> None:
    path = write_plan(tmp_path / "plan.json", PLAN["resource_changes"])

    def late_empty(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(1.0)
        _json_answer(200, b"{}")(handler)

    seen: list[dict[str, Any]] = []
    handler = type("Handler", (_SlowNoReport,), {"seen": seen, "answer": staticmethod(late_empty)})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        started = time.monotonic()
        one_line_error(
            run("eval", str(path), "--opa-url", url, "--timeout", "3"), "no data.soc2opa"
        )
        # Before, the health question could add up to 10 s after the report query.
        assert time.monotonic() - started < 3 + 2.5
        assert len(seen) == 1
    finally:
        server.shutdown()
        server.server_close()
