"""Issue 10 re-run as a hostile user would: every numbered cause through one contract check.

Each case runs the installed `soc2opa` in a folder of its own, with a private TMPDIR and an
environment marker, and must keep the contract: exit 0/1 with a valid report, or exit 2 (128+N
after a signal) with exactly one line on stderr; no traceback; no secret in any output or file
it wrote; no raw terminal control characters; no process left holding the marker; nothing left
in TMPDIR or beside the outputs. tests/test_hardening.py holds the focused test of each fix; this
sweep adds the uniform contract and the leak checks, reusing its inputs.

`python -m tests.hostile_sweep` prints one line per case with its exit code and time.
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jsonschema

from tests.conftest import BUNDLE, ROOT, SOC2OPA, change
from tests.test_hardening import (
    HOSTILE,
    NOT_STRICT_JSON,
    PLAN,
    PLAN_TEXT,
    SECRET,
    WRONG_ANSWERS,
    _json_answer,
    _Recorder,
    _trickle,
)

CREDENTIAL = "sw33p-cr3d"
SCHEMA = json.loads((ROOT / "soc2opa/schemas/report.schema.json").read_text())
FORMATS = ("json", "sarif", "junit", "markdown", "github", "csv", "text")
# Raw terminal controls that must never reach a terminal, a pipe or a text file.
_RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_DROP_DAC = [
    "setpriv", "--bounding-set=-dac_override,-dac_read_search",
    "--inh-caps=-dac_override,-dac_read_search",
]  # fmt: skip


@dataclass
class Case:
    """One hostile run: how to set it up, what it may exit with, what else must hold."""

    cause: int
    name: str
    setup: Callable[[Path, dict[str, str]], list[str]]
    codes: tuple[int, ...] = (2,)
    fragment: str = ""
    stdin: bytes | None = None
    stdout_to: str | None = None
    signal_when: Callable[[Path], bool] | None = None
    signum: int = signal.SIGTERM
    max_seconds: float = 60.0
    check: Callable[[Path, Outcome], None] | None = None
    prefix: list[str] = field(default_factory=list)
    # An address-space limit, so that a regression fails the case instead of the machine.
    memory_mb: int | None = None


@dataclass
class Outcome:
    """What a case's run left behind."""

    code: int
    stdout: str
    stderr: str
    seconds: float


def _plan(d: Path, doc: Any, name: str = "plan.json") -> Path:
    path = d / name
    path.write_text(json.dumps(doc))
    return path


def _rc(address: str = "aws_db_instance.db", **after: Any) -> dict[str, Any]:
    return change(address, "aws_db_instance", after or {"storage_encrypted": False})


def _bytes(data: bytes, *extra: str) -> Callable[[Path, dict[str, str]], list[str]]:
    def setup(d: Path, _: dict[str, str]) -> list[str]:
        (d / "plan.json").write_bytes(data)
        return ["eval", "plan.json", *extra]

    return setup


def _plain(*args: str) -> Callable[[Path, dict[str, str]], list[str]]:
    def setup(d: Path, _: dict[str, str]) -> list[str]:
        (d / "plan.json").write_text(PLAN_TEXT)
        return list(args)

    return setup


def _fake_opa(d: Path, body: str) -> Path:
    fake = d / "fake-opa"
    fake.write_text("#!/bin/sh\n" + body + "\n")
    fake.chmod(0o755)
    return fake


def _every_format(d: Path) -> list[str]:
    return [arg for fmt in FORMATS for arg in ("-o", f"{fmt}={d / ('out.' + fmt)}")]


# --- the cases, by the number of the cause in issue 10 --------------------------------------


def _non_json() -> list[Case]:
    return [Case(1, f"not strict JSON: {kind}", _bytes(data), fragment=fragment)
            for kind, (data, fragment) in sorted(NOT_STRICT_JSON.items())]  # fmt: skip


def _deep_remote(d: Path, env: dict[str, str]) -> list[str]:
    (d / "plan.json").write_bytes(NOT_STRICT_JSON["deep"][0])
    return ["eval", "plan.json", "--opa-url", env["SWEEP_OK_URL"]]


def _locked(d: Path, _: dict[str, str]) -> list[str]:
    locked = d / "locked"
    locked.mkdir()
    (locked / "plan.json").write_text(PLAN_TEXT)
    locked.chmod(0)
    return ["eval", "locked/plan.json"]


def _locked_folder(d: Path, env: dict[str, str]) -> list[str]:
    _locked(d, env)
    return ["eval", "locked", "--tf-dir", "locked/infra"]


def _wrong(kind: str) -> Callable[[Path, dict[str, str]], list[str]]:
    def setup(d: Path, env: dict[str, str]) -> list[str]:
        (d / "plan.json").write_text(PLAN_TEXT)
        return ["eval", "plan.json", "--opa-url", env[f"SWEEP_WRONG_{kind}"]]

    return setup


def _files_and_options() -> list[Case]:
    return [
        Case(2, "deep nesting through --opa-url", _deep_remote, fragment="limit"),
        Case(2, "/dev/zero", lambda d, e: ["eval", "/dev/zero", "--timeout", "5"],
             fragment="device"),
        Case(2, "NUL bytes on stdin", lambda d, e: ["eval", "-", "--timeout", "5"],
             fragment="(stdin)", stdin=b"\x00" * 4096),
        Case(2, "plan in a folder the user cannot enter", _locked,
             fragment="permission denied", prefix=_DROP_DAC),
        Case(2, "a folder of plans and a --tf-dir the user cannot enter", _locked_folder,
             fragment="permission denied", prefix=_DROP_DAC),
        *(Case(2, f"--timeout {v}", _plain("eval", "plan.json", "--timeout", v),
               fragment="--timeout") for v in ("nan", "inf", "-1")),
        Case(2, "--opa-url with a bad port",
             _plain("eval", "plan.json", "--opa-url", "http://127.0.0.1:99999"), fragment="port"),
        Case(2, "--opa-url with a trailing space",
             _plain("eval", "plan.json", "--opa-url", "http://127.0.0.1:8181 "),
             fragment="--opa-url"),
        Case(2, "stdout on a full disk", _plain("eval", "plan.json"), stdout_to="/dev/full",
             fragment="No space left on device"),
        *(Case(2, f"remote answer of the wrong shape: {kind}", _wrong(kind),
               fragment="OPA server") for kind in ("list", "no_result", "deep", "huge_number")),
        Case(2, "a 5,000-digit integer", _bytes(NOT_STRICT_JSON["huge_integer"][0]),
             fragment="1000 digits"),
    ]  # fmt: skip


def _truncated_bundle(d: Path, _: dict[str, str]) -> list[str]:
    _plan(d, PLAN)
    (d / "cut.tar.gz").write_bytes(BUNDLE.read_bytes()[:400])
    return ["eval", "plan.json", "--bundle", "cut.tar.gz"]


def _duplicate(d: Path, _: dict[str, str]) -> list[str]:
    _plan(d, {**PLAN, "resource_changes": [_rc(), _rc(storage_encrypted=True)]})
    return ["eval", "plan.json"]


_FORGED = "\n::error file=x::forged %0A\n"


def _hostile_plan(d: Path, _: dict[str, str]) -> list[str]:
    path = _plan(d, {**PLAN, "terraform_version": HOSTILE,
                     "resource_changes": [_rc(f'aws_db_instance.db["{HOSTILE}{_FORGED}"]'),
                                          _rc(f"aws_db_instance.w{_FORGED}")]},
                 "plan\x1b]8;;evil\x07\u202e.json")  # fmt: skip
    waiver = {"control": "*", "resource": "aws_db_instance.w*", "reason": HOSTILE + _FORGED,
              "owner": "@team" + _FORGED, "ticket": HOSTILE, "expires": "2999-01-01"}  # fmt: skip
    (d / "w.yaml").write_text(json.dumps({"waivers": [waiver]}))
    return ["eval", path.name, "--waivers", "w.yaml", *_every_format(d)]


def _json_is_exact_and_no_line_is_forged(d: Path, out: Outcome) -> None:
    report = json.loads((d / "out.json").read_text())
    assert report["plan"]["terraform_version"] == HOSTILE
    assert any(HOSTILE in r["resource_address"] for r in report["results"])
    assert report["summary"]["results"]["fail"] > 0 and any(r["waived"] for r in report["results"])
    # A line starting with :: is a GitHub workflow command wherever it is printed (a step that
    # cats a report): only the github format writes them, one per result.
    for fmt in FORMATS:
        text = out.stdout if fmt == "text" else (d / f"out.{fmt}").read_text()
        for line in text.splitlines():
            if line.startswith("::"):
                assert fmt == "github" and re.match(r"::(error|warning|notice) title=", line), (
                    fmt, line[:120])  # fmt: skip


def _hostile_version(d: Path, _: dict[str, str]) -> list[str]:
    path = _plan(d, {**PLAN, "format_version": "9" + HOSTILE * 40}, f"x{HOSTILE}.json")
    return ["eval", path.name]


def _engine_and_strings() -> list[Case]:
    return [
        Case(3, "truncated bundle: OPA's error, blamed on the bundle", _truncated_bundle,
             fragment="OPA cannot use this bundle"),
        Case(3, "two changes at one address: named", _duplicate,
             fragment="two resource changes have the address aws_db_instance.db"),
        Case(4, "terminal injection in address, terraform_version and file name", _hostile_plan,
             codes=(1,), check=_json_is_exact_and_no_line_is_forged),
        Case(4, "terminal injection in format_version and file name of an error",
             _hostile_version, fragment="format_version"),
        Case(4, "terminal injection in a missing file's name",
             lambda d, e: ["eval", f"gone{HOSTILE}.json"], fragment="no such file"),
    ]  # fmt: skip


_MARKINGS: dict[str, dict[str, Any]] = {
    "after_sensitive true": {"after_sensitive": True},
    "after_sensitive on the value": {"after_sensitive": {"storage_encrypted": True}},
    "before_sensitive only": {"before_sensitive": {"storage_encrypted": True}},
    "planned_values sensitive_values only": {"planned_values": True},
}


def _sensitive(marking: dict[str, Any]) -> Callable[[Path, dict[str, str]], list[str]]:
    def setup(d: Path, _: dict[str, str]) -> list[str]:
        rc = _rc(storage_encrypted=SECRET, password=SECRET, username="admin")
        rc["change"].update({k: v for k, v in marking.items() if k != "planned_values"})
        doc: dict[str, Any] = {**PLAN, "resource_changes": [rc]}
        if "planned_values" in marking:
            doc["planned_values"] = {"root_module": {"resources": [{
                "address": "aws_db_instance.db", "mode": "managed", "type": "aws_db_instance",
                "name": "db", "values": {}, "sensitive_values": {
                    "storage_encrypted": True, "password": True}}]}}  # fmt: skip
        _plan(d, doc)
        return ["eval", "plan.json", *_every_format(d)]

    return setup


def _credentials(d: Path, env: dict[str, str]) -> list[str]:
    _plan(d, PLAN)
    url = env["SWEEP_500_URL"].replace("http://", f"http://alice:{CREDENTIAL}@")
    return ["eval", "plan.json", "--opa-url", url, "--format", "json"]


def _credentials_refused(d: Path, _: dict[str, str]) -> list[str]:
    _plan(d, PLAN)
    return ["eval", "plan.json", "--opa-url", f"http://alice:{CREDENTIAL}@127.0.0.1:1"]


def _trickling(d: Path, env: dict[str, str]) -> list[str]:
    _plan(d, PLAN)
    return ["eval", "plan.json", "--opa-url", env["SWEEP_TRICKLE_URL"], "--timeout", "2"]


def _secrets_and_servers() -> list[Case]:
    return [
        *(Case(5, f"sensitive: {name}", _sensitive(marking), codes=(1,))
          for name, marking in _MARKINGS.items()),
        Case(6, "credentials in --opa-url, server error", _credentials, fragment="answered 500"),
        Case(6, "credentials in --opa-url, nothing listening", _credentials_refused,
             fragment="127.0.0.1:1"),
        Case(7, "trickling server, --timeout 2", _trickling, fragment="within 2s",
             max_seconds=8),
    ]  # fmt: skip


def _slow_opa(d: Path, _: dict[str, str]) -> list[str]:
    (d / "opa.pid").touch()  # written by the fake opa once it runs
    fake = _fake_opa(d, f"echo $$ > {d / 'opa.pid'}; sleep 300 & wait")
    (d / "plan.json").write_bytes(PLAN_TEXT.encode("utf-16"))
    return ["eval", "plan.json", "--opa-path", str(fake)]


def _hung_opa(d: Path, _: dict[str, str]) -> list[str]:
    fake = _fake_opa(d, "sleep 300 & wait")
    _plan(d, PLAN)
    return ["eval", "plan.json", "--opa-path", str(fake), "--timeout", "1"]


def _opa_started(d: Path) -> bool:
    pid = d / "opa.pid"
    return pid.exists() and bool(pid.read_text().strip())


def _processes() -> list[Case]:
    return [
        *(Case(8, f"{sig.name} while opa runs (UTF-16 plan)", _slow_opa,
               codes=(128 + sig,), signal_when=_opa_started, signum=sig,
               fragment=f"{sig.name}")
          for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)),
        Case(8, "opa and its child hang past --timeout 1", _hung_opa, fragment="timed out",
             max_seconds=10),
    ]  # fmt: skip


def _onto_plan(d: Path, _: dict[str, str]) -> list[str]:
    _plan(d, PLAN)
    return ["eval", "plan.json", "-o", "plan.json"]


def _kept(d: Path, _: dict[str, str]) -> list[str]:
    (d / "report.json").write_text('{"previous": true}')
    (d / "plan.json").write_text("{")
    return ["eval", "plan.json", "-o", "report.json"]


def _previous_report_kept(d: Path, out: Outcome) -> None:
    assert json.loads((d / "report.json").read_text()) == {"previous": True}
    assert json.loads((d / "plan.json").read_text() + "}") == {}


def _deep_modules(d: Path, _: dict[str, str]) -> list[str]:
    module: dict[str, Any] = {"address": "module.m9", "resources": [{
        "address": "module.m9.aws_db_instance.db", "mode": "managed", "type": "aws_db_instance",
        "name": "db", "values": {"storage_encrypted": False}}]}  # fmt: skip
    for _ in range(9):
        module = {"child_modules": [module]}
    _plan(d, {"format_version": "1.2", "planned_values": {"root_module": module}})
    return ["eval", "plan.json", "--format", "json"]


def _judged_once(d: Path, out: Outcome) -> None:
    assert json.loads(out.stdout)["plan"]["resources_judged"] == 1


def _no_mode(d: Path, _: dict[str, str]) -> list[str]:
    rc = _rc()
    del rc["mode"]
    _plan(d, {**PLAN, "resource_changes": [rc]})
    return ["eval", "plan.json"]


def _no_after(d: Path, _: dict[str, str]) -> list[str]:
    vault = change("aws_backup_vault.v", "aws_backup_vault", {})
    cert = change("aws_acm_certificate.c", "aws_acm_certificate", {})
    for rc in (vault, cert):
        rc["change"]["after"] = None
    _plan(d, {**PLAN, "resource_changes": [vault, cert]})
    return ["eval", "plan.json", "--format", "json"]


def _unknown_not_dropped(d: Path, out: Outcome) -> None:
    report = json.loads(out.stdout)
    statuses = {(r["control_id"], r["resource_address"]): r["status"] for r in report["results"]}
    assert statuses[("backup_vault_lock_enabled", "aws_backup_vault.v")] == "unknown"
    assert statuses[("acm_certificate_not_expiring_30_days", "aws_acm_certificate.c")] == "unknown"
    assert len(report["warnings"]) >= 2


def _outputs_and_drops() -> list[Case]:
    return [
        Case(9, "-o onto the plan", _onto_plan, fragment="is a plan being judged"),
        Case(9, "a failed run keeps the previous -o report", _kept, fragment="truncated",
             check=_previous_report_kept),
        Case(10, "planned_values nine modules deep", _deep_modules, codes=(1,),
             check=_judged_once),
        Case(10, "a resource change without mode", _no_mode, fragment="not a resource change"),
        Case(10, "null after on create: relation and rego-file controls", _no_after,
             codes=(0, 1), check=_unknown_not_dropped),
    ]  # fmt: skip


def _symlink_loop(d: Path, _: dict[str, str]) -> list[str]:
    (d / "loop.json").symlink_to(d / "loop.json")
    return ["eval", "loop.json"]


def _locked_bundle(d: Path, env: dict[str, str]) -> list[str]:
    _locked(d, env)
    _plan(d, PLAN)
    return ["eval", "plan.json", "--bundle", "locked/soc2opa.tar.gz"]


def _repo_opa(d: Path, env: dict[str, str]) -> list[str]:
    (d / ".tools" / "bin").mkdir(parents=True)
    _fake_opa(d / ".tools" / "bin", f"touch {d / 'ran'}; exit 3").rename(d / ".tools/bin/opa")
    env["PATH"] = f"{Path(env['SOC2OPA_OPA']).parent}:/usr/bin:/bin"
    env["SOC2OPA_OPA"] = ""
    _plan(d, PLAN)
    return ["eval", "plan.json"]


def _repo_opa_not_run(d: Path, out: Outcome) -> None:
    assert not (d / "ran").exists()


def _config_bundle(d: Path, _: dict[str, str]) -> list[str]:
    _plan(d, PLAN)
    (d / ".soc2opa.yaml").write_text("bundle: evil.tar.gz\n")
    return ["eval", "plan.json"]


def _diagnoses_and_lookup() -> list[Case]:
    return [
        Case(11, "UTF-32 plan is judged", _bytes(PLAN_TEXT.encode("utf-32")), codes=(1,)),
        Case(11, "BOM-less UTF-16 BE plan is judged", _bytes(PLAN_TEXT.encode("utf-16-be")),
             codes=(1,)),
        Case(11, "trailing garbage is not called truncated",
             _bytes(PLAN_TEXT.encode() + b" x"), fragment="unexpected data after the end"),
        Case(11, "symlink loop", _symlink_loop, fragment="symbolic link loop"),
        Case(11, "a bundle the user cannot read is not called missing", _locked_bundle,
             fragment="cannot use the bundle: permission denied", prefix=_DROP_DAC),
        Case(12, "the repository's .tools/bin/opa is never run", _repo_opa, codes=(1,),
             check=_repo_opa_not_run),
        Case(12, "the repository's config cannot choose the bundle", _config_bundle,
             fragment="bundle cannot be set in a config file"),
        Case(12, "the repository's .soc2opa.yaml is a link to /dev/zero",
             _repo_files(config_link="/dev/zero"), fragment="not a regular file"),
        Case(12, "the repository's waivers file is a link to /dev/zero",
             _repo_files(config="waivers: w.yaml\n", links={"w.yaml": "/dev/zero"}),
             fragment="not a regular file"),
        Case(12, "a YAML alias bomb in the repository's config", _repo_files(config=_BOMB),
             fragment="must be a list of strings", max_seconds=10, memory_mb=1024),
        Case(12, "the repository's config writes a report outside the current folder",
             _repo_files(config="outputs: [csv=../../escape.csv]\n"),
             fragment="outside the current folder"),
        Case(12, "the repository's report file is a link to a device",
             _repo_files(config="outputs: [sarif=soc2opa.sarif]\n",
                         links={"soc2opa.sarif": "/dev/full"}),
             fragment="symbolic link to a device"),
        Case(12, "a waiver glob that a regex would backtrack on for hours", _backtracking_waiver,
             codes=(1,), max_seconds=20),
        Case(12, "a .tf file in the repository is a link to /dev/zero",
             _repo_files(config="tf_dir: .\n", links={"main.tf": "/dev/zero"}), codes=(1,),
             max_seconds=20),
    ]  # fmt: skip


def _backtracking_waiver(d: Path, _: dict[str, str]) -> list[str]:
    _plan(d, {**PLAN, "resource_changes": [_rc("aws_db_instance." + "a" * 5000)]})
    waiver = {"control": "*", "resource": "*a" * 30 + "*b", "reason": "r", "owner": "o",
              "expires": "2999-01-01"}  # fmt: skip
    (d / ".soc2opa.yaml").write_text("waivers: w.yaml\n")
    (d / "w.yaml").write_text(json.dumps({"waivers": [waiver]}))
    return ["eval", "plan.json"]


def _alias_bomb(levels: int = 12) -> str:
    anchors = ["&a [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels):
        prev = chr(ord("a") + i - 1)
        anchors.append(f"&{chr(ord('a') + i)} [" + ", ".join([f"*{prev}"] * 9) + "]")
    return "controls: [" + ", ".join(anchors) + "]\n"


_BOMB = _alias_bomb()


def _repo_files(
    config: str | None = None, config_link: str | None = None, links: dict[str, str] | None = None
) -> Callable[[Path, dict[str, str]], list[str]]:
    """A checkout whose .soc2opa.yaml and other files a pull request wrote (git keeps links)."""

    def setup(d: Path, _: dict[str, str]) -> list[str]:
        _plan(d, PLAN)
        if config is not None:
            (d / ".soc2opa.yaml").write_text(config)
        if config_link is not None:
            (d / ".soc2opa.yaml").symlink_to(config_link)
        for name, target in (links or {}).items():
            (d / name).symlink_to(target)
        return ["eval", "plan.json"]

    return setup


def _fifo(d: Path, _: dict[str, str]) -> list[str]:
    os.mkfifo(d / "plan.fifo")
    return ["eval", "plan.fifo", "--timeout", "1"]


def _everyday() -> list[Case]:
    return [
        Case(2, "empty file", _bytes(b""), fragment="empty"),
        Case(2, "binary tfplan", _bytes(b"PK\x03\x04" + b"\x00" * 64), fragment="binary plan"),
        Case(2, "HCL", _bytes(b'resource "aws_s3_bucket" "b" {}\n'), fragment="HCL"),
        Case(2, "a FIFO nobody writes", _fifo, fragment="within the timeout", max_seconds=8),
        Case(2, "a folder without plans", lambda d, e: ["eval", "."], fragment="no *.json"),
    ]  # fmt: skip


CASES: list[Case] = [
    *_non_json(), *_files_and_options(), *_engine_and_strings(), *_secrets_and_servers(),
    *_processes(), *_outputs_and_drops(), *_diagnoses_and_lookup(), *_everyday(),
]  # fmt: skip


# --- the servers the remote cases talk to, on 127.0.0.1 ------------------------------------


@contextmanager
def fake_servers() -> Iterator[dict[str, str]]:
    """URLs of fake OPA servers (environment names the cases read), stopped on exit."""
    answers: dict[str, Callable[[BaseHTTPRequestHandler], None]] = {
        "SWEEP_TRICKLE_URL": _trickle,
        "SWEEP_500_URL": _json_answer(500, b'{"code": "internal_error", "message": "boom"}'),
        "SWEEP_OK_URL": _json_answer(200, b"{}"),
        **{f"SWEEP_WRONG_{k}": _json_answer(200, WRONG_ANSWERS[k])
           for k in ("list", "no_result", "deep", "huge_number")},
    }  # fmt: skip
    servers = []
    urls = {}
    for name, answer in answers.items():
        handler = type("Handler", (_Recorder,), {"seen": [], "answer": staticmethod(answer)})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        urls[name] = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield urls
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


# --- running a case and checking the contract ----------------------------------------------


def _marked_processes(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker.encode() in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _wait_gone(marker: str, seconds: float = 5.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while True:
        left = [pid for pid in _marked_processes(marker) if not _zombie(pid)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def _limit(megabytes: int) -> Callable[[], None]:
    def apply() -> None:
        size = megabytes << 20
        resource.setrlimit(resource.RLIMIT_AS, (size, size))

    return apply


def run_case(case: Case, base: Path, servers: dict[str, str], opa: Path) -> Outcome:
    """Run one case in a fresh folder under base and assert the whole contract."""
    d = base / re.sub(r"[^a-z0-9]+", "-", case.name.lower()).strip("-")
    tmp = d.parent / (d.name + ".tmp")
    d.mkdir(parents=True)
    tmp.mkdir()
    marker = f"sweep-{uuid.uuid4().hex}"
    env = {**os.environ, **servers, "SOC2OPA_OPA": str(opa), "TMPDIR": str(tmp),
           "SOC2OPA_SWEEP_MARK": marker, "NO_COLOR": "1"}  # fmt: skip
    env.pop("SOC2OPA_DEBUG", None)
    args = case.setup(d, env)
    before = {p.name for p in d.iterdir()}
    started = time.monotonic()
    stdout_file = open(case.stdout_to, "w") if case.stdout_to else None  # noqa: SIM115
    try:
        proc = subprocess.Popen(
            [*case.prefix, str(SOC2OPA), *args], cwd=d, env=env,
            stdin=subprocess.PIPE if case.stdin is not None else subprocess.DEVNULL,
            stdout=stdout_file or subprocess.PIPE, stderr=subprocess.PIPE,
            preexec_fn=_limit(case.memory_mb) if case.memory_mb else None,
        )  # fmt: skip
        if case.signal_when is not None:
            while not case.signal_when(d):
                assert proc.poll() is None and time.monotonic() - started < 30, "never started"
                time.sleep(0.05)
            proc.send_signal(case.signum)
        try:
            out, err = proc.communicate(case.stdin, timeout=max(case.max_seconds, 10) + 30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise AssertionError(f"{case.name}: still running after the case's limit") from None
    finally:
        if stdout_file:
            stdout_file.close()
    outcome = Outcome(
        proc.returncode, (out or b"").decode("utf-8", "replace"),
        err.decode("utf-8", "replace"), time.monotonic() - started,
    )  # fmt: skip
    _assert_contract(case, d, outcome, before)
    assert _wait_gone(marker) == [], f"{case.name}: processes left behind"
    assert list(tmp.iterdir()) == [], f"{case.name}: left in TMPDIR: {list(tmp.iterdir())}"
    if case.check is not None:
        case.check(d, outcome)
    for p in (d, tmp):
        p.chmod(0o700)
        for child in p.iterdir():
            if child.is_dir() and not child.is_symlink():
                child.chmod(0o700)
    return outcome


def _assert_contract(case: Case, d: Path, out: Outcome, before: set[str]) -> None:
    what = f"{case.name}: exit {out.code}, stderr {out.stderr[:300]!r}"
    assert out.code in case.codes, what
    assert "Traceback" not in out.stderr and "internal error" not in out.stderr, what
    assert out.seconds < case.max_seconds, f"{what}: took {out.seconds:.1f}s"
    written = {p.name: p for p in d.iterdir() if p.name not in before}
    texts = [out.stdout, out.stderr]
    texts += [p.read_text(errors="replace") for p in written.values() if p.is_file()]
    for text in texts:
        assert SECRET not in text and CREDENTIAL not in text, f"{case.name}: a secret leaked"
    assert not _RAW.search(out.stderr.replace("\n", "")), f"{case.name}: raw control in stderr"
    leftovers = [n for n in written if not n.startswith("out.")]
    if out.code in (0, 1):
        assert out.stderr == "" or all(ln.startswith("soc2opa: ") for ln in
                                       out.stderr.splitlines()), what  # fmt: skip
        _assert_reports(case, out, written)
        assert leftovers == [], f"{case.name}: left beside the outputs: {leftovers}"
        return
    lines = out.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("soc2opa: "), what
    assert case.fragment in lines[0], f"{what}: expected {case.fragment!r}"
    if case.stdout_to is None:
        assert out.stdout == "", what
    assert leftovers == [], f"{case.name}: left behind: {leftovers}"


def _assert_reports(case: Case, out: Outcome, written: dict[str, Path]) -> None:
    if out.stdout.lstrip().startswith("{"):
        jsonschema.validate(json.loads(out.stdout), SCHEMA)
    else:
        assert out.stdout.startswith("soc2opa "), f"{case.name}: not a report"
        assert not _RAW.search(out.stdout.replace("\n", "")), f"{case.name}: raw control"
    for name, path in written.items():
        text = path.read_text()
        if name == "out.json":
            jsonschema.validate(json.loads(text), SCHEMA)
        elif name in ("out.text", "out.github", "out.markdown", "out.csv"):
            assert not _RAW.search(text.replace("\n", "").replace("\r", "")), (case.name, name)


def main() -> int:
    """Run every case; print one line each and a total."""
    from soc2opa.tools import find_opa

    opa = find_opa()
    base = Path(os.environ.get("SWEEP_DIR", "/tmp/soc2opa-sweep"))
    shutil.rmtree(base, ignore_errors=True)
    failed = 0
    started = time.monotonic()
    with fake_servers() as servers:
        for case in CASES:
            try:
                out = run_case(case, base, servers, opa)
                line = f"ok    exit {out.code:3d} {out.seconds:5.1f}s"
            except Exception as exc:  # one line per failed case, whatever it was
                failed += 1
                line = f"FAIL  {str(exc)[:200]}"
            print(f"{case.cause:2d} {case.name[:60]:60s} {line}", flush=True)
    print(f"{len(CASES)} cases, {failed} failed, {time.monotonic() - started:.1f}s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
