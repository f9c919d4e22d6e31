"""A signed bundle served over HTTP (ETag/304) to a real OPA server that verifies the signature."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import socket
import subprocess
import tarfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, Run

PLAN = ROOT / "examples/demo/plan.json"


class BundleServer:
    """Serves one bundle file at /soc2opa.tar.gz with an ETag; answers 304 to a matching one."""

    def __init__(self, bundle: Path) -> None:
        self.bundle = bundle
        self.log: list[tuple[str, int]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = server.bundle.read_bytes()
                etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                if self.path.split("?")[0] != "/soc2opa.tar.gz":
                    code, body = 404, b""
                elif self.headers.get("If-None-Match") == etag:
                    code, body = 304, b""
                else:
                    code = 200
                server.log.append((self.path, code))
                self.send_response(code)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> BundleServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _health(url: str) -> int:
    try:
        with urllib.request.urlopen(f"{url}/health?bundles", timeout=2) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if not openssl:
        pytest.fail("openssl is required to make a signing key")
    tmp = tmp_path_factory.mktemp("keys")
    private, public = tmp / "private.pem", tmp / "public.pem"
    subprocess.run(
        [openssl, "genrsa", "-out", str(private), "2048"], check=True, capture_output=True
    )
    subprocess.run(
        [openssl, "rsa", "-in", str(private), "-pubout", "-out", str(public)],
        check=True,
        capture_output=True,
    )
    return private, public


@pytest.fixture(scope="module")
def signed(
    run_module: Run, keys: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    out = tmp_path_factory.mktemp("signed") / "dist"
    proc = run_module("build", "--signing-key", str(keys[0]), "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    return out / "soc2opa-opa.tar.gz"


@pytest.fixture(scope="module")
def run_module(opa: Path) -> Run:
    import os
    import sys

    def _run(*args: str, **_: Any) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "SOC2OPA_OPA": str(opa)}
        return subprocess.run([str(Path(sys.executable).parent / "soc2opa"), *args],
                              capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)  # fmt: skip

    return _run


def _members(bundle: Path) -> dict[str, bytes]:
    with tarfile.open(bundle) as tar:
        return {
            m.name.lstrip("/"): tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()
        }  # type: ignore[union-attr]


def test_signed_bundle_carries_signature_and_version(signed: Path) -> None:
    members = _members(signed)
    assert ".signatures.json" in members
    manifest = json.loads(members[".manifest"])
    meta = manifest["metadata"]
    assert manifest["revision"] and meta["version"] == "0.1.0" and meta["controls"] >= 30
    assert meta["catalog_digest"].startswith("sha256:")


@pytest.fixture
def opa_server(opa: Path, tmp_path: Path, keys: tuple[Path, Path]) -> Iterator[Any]:
    started: list[subprocess.Popen[str]] = []

    def start(bundle_url: str) -> tuple[str, Path]:
        port = _free_port()
        config = tmp_path / f"config-{port}.yaml"
        config.write_text(json.dumps({
            "services": {"bundles": {"url": bundle_url}},
            "bundles": {"soc2opa": {"service": "bundles", "resource": "soc2opa.tar.gz",
                                    "signing": {"keyid": "soc2opa"},
                                    "polling": {"min_delay_seconds": 1, "max_delay_seconds": 2}}},
            "keys": {"soc2opa": {"algorithm": "RS256", "key": keys[1].read_text()}},
            "decision_logs": {"console": True},
        }))  # fmt: skip
        log = tmp_path / f"opa-{port}.log"
        proc = subprocess.Popen(
            [str(opa), "run", "--server", "--addr", f"127.0.0.1:{port}", "--config-file", str(config)],
            stdout=log.open("w"), stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        started.append(proc)
        return f"http://127.0.0.1:{port}", log

    yield start
    for proc in started:
        proc.terminate()
        proc.wait(timeout=20)


def _wait(predicate: Any, seconds: float = 60) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.3)
    return False


def _findings(report: dict[str, Any]) -> list[Any]:
    doc = report["reports"][0] if "reports" in report else report
    return sorted(
        (r["control_id"], r["resource_address"], r["status"], r["message"]) for r in doc["results"]
    )


def test_served_signed_bundle_judges_like_the_local_engine(
    run_module: Run, signed: Path, opa_server: Any
) -> None:
    with BundleServer(signed) as server:
        url, log = opa_server(server.url)
        assert _wait(lambda: _health(url) == 200), log.read_text()[-2000:]
        remote = run_module("eval", str(PLAN), "--format", "json", "--no-config", "--opa-url", url)
        local = run_module("eval", str(PLAN), "--format", "json", "--no-config")
        assert remote.returncode == local.returncode == 1, remote.stderr
        assert _findings(json.loads(remote.stdout)) == _findings(json.loads(local.stdout))
        assert len(_findings(json.loads(local.stdout))) > 10
        # OPA polls again with the ETag it got and the server answers 304 Not Modified.
        assert _wait(lambda: ("/soc2opa.tar.gz", 304) in server.log, 30), server.log
        assert server.log[0] == ("/soc2opa.tar.gz", 200)
        decision_logs = log.read_text()
        assert '"decision_id"' in decision_logs


def test_tampered_bundle_is_refused(
    run_module: Run, signed: Path, opa_server: Any, tmp_path: Path
) -> None:
    members = _members(signed)
    main = next(name for name in members if name.endswith("main.rego"))
    members[main] = members[main].replace(
        b"package soc2opa.main", b"package soc2opa.main\n\n_tampered := true", 1
    )
    tampered = tmp_path / "tampered.tar.gz"
    with tarfile.open(tampered, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo("/" + name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with BundleServer(tampered) as server:
        url, log = opa_server(server.url)
        assert _wait(lambda: any(code == 200 for _, code in server.log)), (
            "OPA never fetched the bundle"
        )
        assert _wait(
            lambda: (
                "verification" in log.read_text().lower() or "digest" in log.read_text().lower()
            ),
            30,
        ), log.read_text()[-2000:]
        assert _health(url) != 200
        proc = run_module("eval", str(PLAN), "--no-config", "--opa-url", url)
        assert proc.returncode == 2
        assert (
            "bundles are not activated" in proc.stderr and "signature verification" in proc.stderr
        ), proc.stderr
