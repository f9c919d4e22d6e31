"""Controls listed and shown by framework; eval results grouped by NIST 800-53 or ISO 27001."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

from tests.conftest import ROOT, Run

DEMO = str(ROOT / "examples/demo/plan.json")


def test_controls_list_filters_and_counts(run: Run) -> None:
    everything = json.loads(run("controls", "list", "--format", "json").stdout)
    assert json.loads(run("controls", "--format", "json").stdout) == everything
    rds = json.loads(run("controls", "list", "--service", "rds", "--format", "json").stdout)
    assert rds and all(m["custom"]["service"] == "rds" for m in rds.values())
    cc72 = json.loads(run("controls", "list", "--criterion", "cc7.2", "--format", "json").stdout)
    assert cc72 and all("CC7.2" in m["custom"]["criteria"] for m in cc72.values())
    nist = run("controls", "list", "--framework", "nist-800-53")
    assert nist.returncode == 0
    listed = json.loads(run("controls", "list", "--framework", "nist", "--format", "json").stdout)
    assert 0 < len(listed) < len(everything)
    assert all(m["custom"]["crosswalk"]["nist_800_53"] for m in listed.values())
    assert nist.stdout.strip().endswith(f"{len(listed)} controls")
    assert run("controls", "list", "--framework", "cobit").returncode == 2


def test_controls_show_says_what_and_why(run: Run) -> None:
    shown = run("controls", "show", "rds_instance_storage_encrypted")
    assert shown.returncode == 0
    for part in ("aws_db_instance", "SOC 2 criterion: CC6.1", "Fix:", "reference rows:"):
        assert part in shown.stdout
    runtime = run("controls", "show", "iam_root_mfa_enabled").stdout
    assert "Needs runtime evidence:" in runtime and "(nothing in a plan)" in runtime
    missing = run("controls", "show", "rds_instance_storage_encrypte")
    assert (
        missing.returncode == 2 and "did you mean rds_instance_storage_encrypted" in missing.stderr
    )


def test_eval_groups_the_same_results_by_framework(run: Run) -> None:
    soc2 = json.loads(run("eval", DEMO, "--format", "json").stdout)
    nist = json.loads(run("eval", DEMO, "--format", "json", "--framework", "NIST-800-53").stdout)
    assert soc2["results"] == nist["results"]
    assert soc2["summary"]["by_framework"] is None
    groups = nist["summary"]["by_framework"]["groups"]
    assert nist["settings"]["framework"] == "nist-800-53"
    rds = "rds_instance_storage_encrypted"
    assert rds in groups["SC-28"]["controls"]
    total = sum(g["fail"] for g in groups.values() if rds in g["controls"])
    assert total >= next(c for c in nist["controls"] if c["id"] == rds)["counts"]["fail"]
    text = run("eval", DEMO, "--framework", "iso-27001").stdout
    assert "By ISO/IEC 27001:2022 Annex A control:" in text and "A.8.24" in text


def test_reference_keys_name_rows_of_the_reference_table(run: Run) -> None:
    table = ROOT.parent / "shared" / "reference" / "soc2-aws-controls.tsv"
    assert table.is_file(), f"{table} is missing: the reference table comes from ../shared"
    rows = {line.split("\t", 1)[0] for line in table.read_text().splitlines()[1:] if line}
    catalog = json.loads(run("controls", "list", "--format", "json").stdout)
    keys = {k for meta in catalog.values() for k in meta["custom"].get("reference", [])}
    assert keys and keys <= rows, sorted(keys - rows)
    # A control beyond the table (a gap found against other tools) says why instead.
    without = sorted(
        cid
        for cid, meta in catalog.items()
        if not meta["custom"].get("reference") and not meta["custom"].get("beyond_reference")
    )
    assert without == [], without


def test_controls_from_a_hostile_bundle_are_escaped(run: Run, tmp_path: Path) -> None:
    source = ROOT / "bundles" / "soc2opa.tar.gz"
    hostile = tmp_path / "hostile.tar.gz"
    target = "rego/controls/s3/s3_bucket_versioning_enabled.rego"
    evil = '# title: "Evil \\e]0;pwned\\a \\e[2J \\u202e \\u009b title"'
    with tarfile.open(source, "r:gz") as src, tarfile.open(hostile, "w:gz") as dst:
        for member in src:
            data = src.extractfile(member) if member.isfile() else None
            body = data.read() if data else b""
            if member.name.endswith(target.removeprefix("rego")):
                text = body.decode()
                assert "# title: " in text
                lines = [evil if ln.startswith("# title: ") else ln for ln in text.splitlines()]
                body = ("\n".join(lines) + "\n").encode()
                member.size = len(body)
            dst.addfile(member, io.BytesIO(body) if member.isfile() else None)
    for args in (["show", "s3_bucket_versioning_enabled"], ["list", "--service", "s3"]):
        proc = run("controls", *args, "--bundle", str(hostile))
        assert proc.returncode == 0, proc.stderr
        assert "Evil" in proc.stdout
        for raw in ("\x1b", "\x07", "\u202e", "\u009b"):
            assert raw not in proc.stdout, (args, raw)
        assert "\\x1b]0;pwned" in proc.stdout
