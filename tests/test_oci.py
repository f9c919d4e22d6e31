"""soc2opa publish --oci pushes the bundle to a real registry; OPA and conftest pull it from there."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BUNDLE, ROOT, Run

TOOLS = ROOT / ".tools" / "bin"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0


def _wait(predicate: object, seconds: float = 60) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.3)
    return False


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[str]:
    binary = TOOLS / "registry"
    if not binary.is_file():
        pytest.fail("registry is required: `make setup` installs go-containerregistry's registry")
    port = _free_port()
    proc = subprocess.Popen(
        [str(binary), "-port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        assert _wait(lambda: _get(f"http://127.0.0.1:{port}/v2/") == 200), "registry did not start"
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_publish_then_opa_and_conftest_pull(
    run: Run, registry: str, opa: Path, tmp_path: Path
) -> None:
    ref = f"{registry}/soc2opa/bundle:0.1.0"
    proc = run("publish", "--oci", ref)
    assert proc.returncode == 0, proc.stderr
    assert "sha256:" in proc.stdout
    with urllib.request.urlopen(urllib.request.Request(
        f"http://{registry}/v2/soc2opa/bundle/manifests/0.1.0",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
    )) as r:  # fmt: skip
        manifest = json.load(r)
    assert manifest["layers"][0]["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"

    # OPA's OCI bundle service pulls and activates it, and judges the demo plan like opa eval.
    port = _free_port()
    config = tmp_path / "config.json"
    config.write_text(json.dumps({
        "services": {"registry": {"url": f"http://{registry}", "type": "oci"}},
        "bundles": {"soc2opa": {"service": "registry", "resource": ref, "persist": False,
                                "polling": {"min_delay_seconds": 2, "max_delay_seconds": 4}}},
        "persistence_directory": str(tmp_path / "persist"),
    }))  # fmt: skip
    log = tmp_path / "opa.log"
    server = subprocess.Popen([str(opa), "run", "--server", "--addr", f"127.0.0.1:{port}", "--config-file", str(config)],
                              stdout=log.open("w"), stderr=subprocess.STDOUT)  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        assert _wait(lambda: _get(f"{url}/health?bundles") == 200), log.read_text()[-2000:]
        plan = ROOT / "examples/demo/plan.json"
        remote = run("eval", str(plan), "--format", "json", "--no-config", "--opa-url", url)
        local = run("eval", str(plan), "--format", "json", "--no-config")
        assert remote.returncode == local.returncode == 1, remote.stderr

        def findings(out: str) -> list[tuple[str, str, str]]:
            doc = json.loads(out)
            doc = doc["reports"][0] if "reports" in doc else doc
            return sorted(
                (r["control_id"], r["resource_address"], r["status"]) for r in doc["results"]
            )

        assert findings(remote.stdout) == findings(local.stdout)
    finally:
        server.terminate()
        server.wait(timeout=20)

    # conftest pull fetches the same bundle bytes over the registry API.
    conftest = TOOLS / "conftest"
    if not conftest.is_file():
        pytest.fail("conftest is required: `make setup` installs it into .tools/bin")
    pulled = tmp_path / "pulled"
    # conftest pull joins --policy to the working directory, so it is given a relative one.
    proc = subprocess.run([str(conftest), "pull", f"oci://{ref}", "--policy", "pulled"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (pulled / "soc2opa.tar.gz").read_bytes() == BUNDLE.read_bytes()


def test_publish_refuses_a_bad_reference_and_says_when_the_registry_is_down(run: Run) -> None:
    proc = run("publish", "--oci", "not a reference")
    assert proc.returncode == 2 and "REGISTRY/REPOSITORY:TAG" in proc.stderr
    proc = run("publish", "--oci", f"127.0.0.1:{_free_port()}/soc2opa:1")
    assert proc.returncode == 2 and "cannot reach registry" in proc.stderr
