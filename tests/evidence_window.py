"""A simulated audit window of real evaluation records, for the export tests.

Three real evaluations (the demo plan with the example waivers, a plan holding a sensitive
password, and the shown-state fixture) are recorded once by `soc2opa eval --evidence`; their
records are then appended again, one or more a day, over a window with a few days left out.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from soc2opa.evidence.store import append, read
from tests.conftest import ROOT, Run

DEMO = ROOT / "examples" / "demo" / "plan.json"
WAIVERS = ROOT / "examples" / "waivers" / "waivers.yaml"
STATE = ROOT / "tests" / "fixtures" / "state" / "handbuilt_state_shown.json"
SECRET_FIXTURE = ROOT / "tests" / "plans" / "emr" / "emr_kerberos_enabled.json"
STATE_PASSWORD = "state-secret-hunter2"
FIRST_DAY = date(2026, 3, 1)
DAYS = 30
GAPS = {4, 5, 17}  # day offsets without any evaluation


def secret_plan(tmp_path: Path) -> tuple[Path, str]:
    """A real plan whose EMR cluster holds a password marked sensitive, and the password."""
    doc = json.loads(SECRET_FIXTURE.read_text())
    plan = next(iter(doc["examples"].values()))
    path = tmp_path / "secret.json"
    path.write_text(json.dumps(plan))
    rc = next(r for r in plan["resource_changes"] if r["type"] == "aws_emr_cluster")
    password = rc["change"]["after"]["kerberos_attributes"][0]["kdc_admin_password"]
    assert rc["change"]["after_sensitive"]["kerberos_attributes"][0]["kdc_admin_password"]
    return path, str(password)


def build_window(run: Run, tmp_path: Path) -> tuple[Path, list[str]]:
    """A store of a 30-day window, and the sensitive values its plans held."""
    seed = tmp_path / "seed.db"
    secret, password = secret_plan(tmp_path)
    proc = run("eval", str(DEMO), str(secret), str(STATE), "--waivers", str(WAIVERS),
               "--evidence", str(seed), "-q")  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    templates = [r.record for r in read(seed)]
    assert [t["kind"] for t in templates] == ["plan", "plan", "state"]
    store = tmp_path / "window.db"
    n = 0
    for offset in range(DAYS):
        if offset in GAPS:
            continue
        day = FIRST_DAY + timedelta(days=offset)
        for k in range(1 + offset % 3):
            record: dict[str, Any] = json.loads(json.dumps(templates[n % len(templates)]))
            record["started_at"] = f"{day}T{8 + k:02d}:00:00.000000+00:00"
            record["ended_at"] = f"{day}T{8 + k:02d}:00:05.000000+00:00"
            append(store, record)
            n += 1
    return store, [password, STATE_PASSWORD]
