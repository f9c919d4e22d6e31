"""The wheel: only the soc2opa package, with the built bundle inside it."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import BUNDLE, ROOT


def test_wheel_holds_only_soc2opa_and_the_bundle(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", str(ROOT), "-w", str(tmp_path)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (wheel,) = tmp_path.glob("soc2opa-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"soc2opa", next(t for t in tops if t.endswith(".dist-info"))}
    assert "soc2opa/_bundle/soc2opa.tar.gz" in names
    assert zipfile.ZipFile(wheel).read("soc2opa/_bundle/soc2opa.tar.gz") == BUNDLE.read_bytes()
    assert (
        "soc2opa/schemas/control.schema.json" in names
        and "soc2opa/schemas/report.schema.json" in names
    )
