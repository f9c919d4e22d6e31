"""A plain `soc2opa eval` imports only what judging one plan needs (docs/performance.md).

Every module imported is paid for on every run, before opa starts; a CI job judging a small plan
runs soc2opa once. Modules that only some runs use are imported where they are used.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

# Each is imported by the option or situation named, never by a plain run.
ONLY_WHEN_USED = {
    "yaml": "a config or waivers file",
    "tomllib": "a pyproject.toml in the working folder",
    "difflib": "an unknown control id",
    "tarfile": "a bundle not yet in the cache",
    "soc2opa.locations": "--tf-dir",
    "soc2opa.opaurl": "--opa-url",
    "soc2opa.evidence.record": "--evidence or --waivers",
    "soc2opa.evidence.store": "--evidence",
    "http.client": "a batch, a warm server or --opa-url",
    "concurrent.futures": "a batch of plans",
}

_PROBE = """
import atexit, json, sys
atexit.register(lambda: print(json.dumps(sorted(sys.modules)), file=sys.stderr))
from soc2opa.cli import main
sys.argv = ["soc2opa", *sys.argv[1:]]
main()
"""


def _modules_after(tmp_path: Path, *args: str) -> set[str]:
    env = {**os.environ, "SOC2OPA_WARM": "0", "SOC2OPA_CACHE_DIR": str(tmp_path / "cache")}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode in (0, 1), done.stderr
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


def test_a_plain_eval_imports_nothing_it_does_not_use(tmp_path: Path) -> None:
    plan = ROOT / "examples" / "demo" / "plan.json"
    (tmp_path / "cache").mkdir(mode=0o700)
    # The first run extracts the bundle into the cache (tarfile); the second is the usual one.
    _modules_after(tmp_path, "eval", "--format", "json", str(plan))
    loaded = _modules_after(tmp_path, "eval", "--format", "json", str(plan))
    assert "soc2opa.engine" in loaded and "soc2opa.formats.json_format" in loaded
    assert sorted(loaded & set(ONLY_WHEN_USED)) == []


def test_the_options_that_need_them_still_import_them(tmp_path: Path) -> None:
    plan = ROOT / "examples" / "demo" / "plan.json"
    (tmp_path / "cache").mkdir(mode=0o700)
    (tmp_path / "pyproject.toml").write_text('[tool.soc2opa]\nfail_on = "high"\n')
    loaded = _modules_after(
        tmp_path, "eval", "-q", "--tf-dir", str(tmp_path), "--evidence", "ev.db", str(plan)
    )
    assert {"tomllib", "soc2opa.locations", "soc2opa.evidence.record"} <= loaded
