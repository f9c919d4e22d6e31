"""--tf-dir: findings on the .tf file and line, through module calls, on a real Terraform plan."""

from __future__ import annotations

import json
from pathlib import Path

from soc2opa.locations import Locator, scan_blocks
from tests.conftest import ROOT, Run

TF = ROOT / "tests" / "fixtures" / "tf_locations"
PLAN = TF / "plan.json"
REL = "tests/fixtures/tf_locations"


def test_scanner_skips_strings_heredocs_and_comments() -> None:
    blocks = [(k, a, b, line) for k, a, b, line, _ in scan_blocks((TF / "main.tf").read_text())]
    assert blocks == [
        ("resource", "aws_db_instance", "plain", 15),
        ("resource", "aws_s3_bucket", "logs", 27),
        ("module", "buckets", None, 32),
        ("module", "db", None, 38),
    ]


def test_every_planned_resource_is_located() -> None:
    plan = json.loads(PLAN.read_text())
    locator = Locator(TF)
    expected = {
        "aws_db_instance.plain": ("main.tf", 15, []),
        "aws_s3_bucket.logs[0]": ("main.tf", 27, []),
        "aws_s3_bucket.logs[1]": ("main.tf", 27, []),
        'module.buckets["exports"].aws_s3_bucket.this': ("modules/bucket/main.tf", 5, [32]),
        'module.buckets["invoices"].aws_s3_bucket.this': ("modules/bucket/main.tf", 5, [32]),
        "module.db.aws_db_instance.main": ("modules/db/main.tf", 5, [38]),
        "module.db.module.inner.aws_ebs_volume.cache": ("modules/inner/main.tf", 1, [38, 1]),
    }
    assert {rc["address"] for rc in plan["resource_changes"]} == set(expected)
    for address, (file, line, calls) in expected.items():
        found = locator.locate(address)
        assert found is not None, address
        assert (found.resource.path, found.resource.line) == (TF / file, line), address
        assert [c.line for _, c in found.module_calls] == calls, address
    assert locator.locate("aws_s3_bucket.missing") is None


def test_installed_remote_modules_are_followed(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(
        'module "vpc" {\n  source = "terraform-aws-modules/vpc/aws"\n}\n'
    )
    installed = tmp_path / ".terraform" / "modules" / "vpc"
    installed.mkdir(parents=True)
    (installed / "main.tf").write_text('\n\nresource "aws_vpc" "this" {\n}\n')
    (tmp_path / ".terraform/modules/modules.json").write_text(
        json.dumps({"Modules": [{"Key": "vpc", "Source": "x", "Dir": ".terraform/modules/vpc"}]})
    )
    found = Locator(tmp_path).locate("module.vpc.aws_vpc.this")
    assert found is not None and found.resource.line == 3
    (tmp_path / ".terraform/modules/modules.json").unlink()
    call = Locator(tmp_path).locate("module.vpc.aws_vpc.this")
    assert call is not None and (call.resource.path.name, call.resource.line) == ("main.tf", 1)


def test_findings_point_at_the_tf_line_in_every_format(run: Run, tmp_path: Path) -> None:
    sarif = tmp_path / "out.sarif"
    gh = tmp_path / "gh.log"
    proc = run(
        "eval", str(PLAN.relative_to(ROOT)), "--tf-dir", REL, "--format", "json",
        "--control", "rds_instance_storage_encrypted,ebs_volume_encrypted",
        "-o", f"sarif={sarif}", "-o", f"github={gh}",
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    where = {r["resource_address"]: r["location"] for r in doc["results"]}
    assert where["aws_db_instance.plain"] == {
        "file": f"{REL}/main.tf",
        "line": 15,
        "module_calls": [],
    }
    assert where["module.db.module.inner.aws_ebs_volume.cache"] == {
        "file": f"{REL}/modules/inner/main.tf",
        "line": 1,
        "module_calls": [
            {"module": "module.db", "file": f"{REL}/main.tf", "line": 38},
            {"module": "module.inner", "file": f"{REL}/modules/db/main.tf", "line": 1},
        ],
    }
    results = json.loads(sarif.read_text())["runs"][0]["results"]
    uris = {
        r["properties"]["resourceAddress"]: (
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            r["locations"][0]["physicalLocation"]["region"]["startLine"],
        )
        for r in results
    }
    assert uris["module.db.aws_db_instance.main"] == (f"{REL}/modules/db/main.tf", 5)
    annotations = gh.read_text()
    assert f"::error file={REL}/main.tf,line=15,title=" in annotations
    assert f"::error file={REL}/modules/inner/main.tf,line=1,title=" in annotations


TF_JSON = ROOT / "tests" / "fixtures" / "tf_locations_json"


def test_tf_json_files_are_located_on_the_line_of_the_block_name() -> None:
    plan = json.loads((TF_JSON / "plan.json").read_text())
    locator = Locator(TF_JSON)
    expected = {
        "aws_ebs_volume.scratch": ("main.tf.json", 19, []),
        "aws_sqs_queue.jobs[0]": ("main.tf.json", 26, []),
        "aws_sqs_queue.jobs[1]": ("main.tf.json", 26, []),
        "module.events.aws_sqs_queue.this": ("modules/queue/main.tf.json", 5, [34]),
    }
    assert {rc["address"] for rc in plan["resource_changes"]} == set(expected)
    for address, (file, line, calls) in expected.items():
        found = locator.locate(address)
        assert found is not None, address
        assert (found.resource.path, found.resource.line) == (TF_JSON / file, line), address
        assert [c.line for _, c in found.module_calls] == calls, address


def test_eval_reports_tf_json_lines(run: Run) -> None:
    rel = "tests/fixtures/tf_locations_json"
    proc = run(
        "eval", f"{rel}/plan.json", "--tf-dir", rel, "--format", "json",
        "--control", "ebs_volume_encrypted,sqs_queue_encrypted",
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    located = {
        r["resource_address"]: (r["location"]["file"], r["location"]["line"])
        for r in json.loads(proc.stdout)["results"]
        if r.get("location")
    }
    assert located["aws_ebs_volume.scratch"] == (f"{rel}/main.tf.json", 19)
    assert located["module.events.aws_sqs_queue.this"] == (
        f"{rel}/modules/queue/main.tf.json",
        5,
    )
