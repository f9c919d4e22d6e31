"""Real `terraform show -json` plans from public projects (../shared/plans) and the demo plan."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from tests.conftest import ROOT, SHARED_PLANS, Run, outcome

SCHEMA = json.loads((ROOT / "soc2opa/schemas/report.schema.json").read_text())
ALL_PLANS = sorted(p.name for p in SHARED_PLANS.glob("*.json"))


@pytest.mark.parametrize("plan", ALL_PLANS)
def test_every_real_plan_gets_a_verdict(run: Run, shared_plans: Path, plan: str) -> None:
    proc = run("eval", str(shared_plans / plan), "--format", "json")
    assert proc.returncode in (0, 1), proc.stderr
    report = json.loads(proc.stdout)
    jsonschema.Draft202012Validator(SCHEMA).validate(report)
    assert report["summary"]["exit_code"] == proc.returncode
    if not report["results"]:
        assert report["warnings"], "a plan with nothing judged must say so"


def _report(run: Run, plan: Path) -> dict:
    proc = run("eval", str(plan), "--format", "json")
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)


def test_goat_plan(run: Run, shared_plans: Path) -> None:
    """A deliberately insecure stack (Terraform 0.12, format 0.1)."""
    r = _report(run, shared_plans / "checkov__plan_tfplan.json")
    assert outcome(r, "rds_instance_storage_encrypted", "aws_db_instance.default") == "fail"
    assert outcome(r, "s3_bucket_default_encryption", "aws_s3_bucket.logs") == "pass"
    assert outcome(r, "s3_bucket_kms_encryption", "aws_s3_bucket.logs") == "pass"
    # Nothing declared: AWS encrypts these with SSE-S3 (since January 2023), which is not KMS.
    for bucket in ("data", "data_science", "financials", "flowbucket", "operations"):
        assert outcome(r, "s3_bucket_default_encryption", f"aws_s3_bucket.{bucket}") == "pass"
        assert outcome(r, "s3_bucket_kms_encryption", f"aws_s3_bucket.{bucket}") == "fail"
    # The inline logging block points at the new logs bucket, whose id is known only after apply.
    assert outcome(r, "s3_bucket_access_logging", "aws_s3_bucket.data_science") == "pass"
    assert outcome(r, "s3_bucket_access_logging", "aws_s3_bucket.data") == "fail"
    assert outcome(r, "ebs_volume_encrypted", "aws_ebs_volume.web_host_storage") == "unknown"
    assert outcome(r, "ec2_instance_block_devices_encrypted", "aws_instance.web_host") == "unknown"
    assert outcome(r, "elb_classic_tls_listeners", "aws_elb.weblb") == "fail"
    assert r["plan"]["terraform_version"] == "0.12.23" and r["plan"]["format_version"] == "0.1"


def test_same_plan_without_configuration_gives_the_same_verdicts(
    run: Run, shared_plans: Path
) -> None:
    with_cfg = _report(run, shared_plans / "checkov__plan_tfplan.json")
    without = _report(
        run,
        shared_plans
        / "checkov__terraform_runner_tf_plan_skip_check_regex_resource_skip_directory_tfplan2.json",
    )

    def pairs(rep: dict) -> set[tuple[str, str, str]]:
        return {(x["control_id"], x["resource_address"], x["status"]) for x in rep["results"]}

    # A join whose key is known only after apply (here a snapshot's db_cluster_identifier)
    # needs the configuration's references; without them the verdict is unknown, never a guess.
    only_with, only_without = pairs(with_cfg) - pairs(without), pairs(without) - pairs(with_cfg)
    assert {(c, a) for c, a, _ in only_with} == {(c, a) for c, a, _ in only_without}
    assert {c for c, _, _ in only_with} <= {
        "neptune_cluster_snapshot_encrypted",
        # Subnets, security groups and flow logs are placed by references (their ids are new).
        "ec2_instance_in_vpc",
        "ec2_instance_no_public_ip",
        "ec2_instance_sensitive_ports_not_internet_exposed",
        "vpc_flow_logs_enabled",
        "vpc_security_group_attached",
        "vpc_subnets_public_private_separated",
        # if_unknown: default reads the configuration to tell "not written" from "unknown"
        # (the gateway's vpc_id is written: aws_vpc.web_vpc.id).
        "lambda_function_tracing_enabled",
        "vpc_igw_attached_to_authorized_vpc",
    }
    assert all(s == "unknown" for _, _, s in only_without)


def test_utf16_windows_plan_with_a_certificate(run: Run, shared_plans: Path) -> None:
    path = shared_plans / "checkov__plan_with_lifecycle_check_tfplan.json"
    assert path.read_bytes()[:2] == b"\xff\xfe"
    r = _report(run, path)
    assert outcome(r, "acm_certificate_not_expiring_30_days", "aws_acm_certificate.acme") == "pass"


def test_create_without_planned_values_is_never_judged_on_defaults(
    run: Run, shared_plans: Path
) -> None:
    # This plan's create has "after": null, so no setting of the distribution is known.
    r = _report(run, shared_plans / "checkov__plan_after_unknown_tfplan.json")
    address = "aws_cloudfront_distribution.cloudfront"
    for control in (
        "cloudfront_access_logging",
        "cloudfront_viewer_https_only",
        "cloudfront_minimum_tls_version",
    ):
        assert outcome(r, control, address) == "unknown"
    result = next(x for x in r["results"] if x["control_id"] == "cloudfront_viewer_https_only")
    assert "change.after is null" in result["message"]
    assert any(w.startswith(f"{address}: change.after is null") for w in r["warnings"])


def test_modules_keep_full_addresses(run: Run, shared_plans: Path) -> None:
    r = _report(
        run,
        shared_plans
        / "checkov__common_runner_registry_plan_with_tf_modules_for_enrichment_tfplan.json",
    )
    failing = {x["resource_address"]: x for x in r["results"] if x["status"] == "fail"}
    assert set(failing) == {
        "module.log_group_external.aws_cloudwatch_log_group.this[0]",
        "module.log_group_local.aws_cloudwatch_log_group.not_encrypted",
    }
    assert (
        failing["module.log_group_external.aws_cloudwatch_log_group.this[0]"]["module_address"]
        == "module.log_group_external"
    )
    nested = _report(
        run, shared_plans / "checkov__terraform_graph_resources_modules_edges_tfplan_tfplan.json"
    )
    addresses = {
        x["resource_address"]
        for x in nested["results"]
        if x["control_id"] == "s3_bucket_default_encryption"
    }
    assert addresses == {
        "module.test.module.s3-bucket-1.aws_s3_bucket.this[0]",
        "module.test.module.s3-bucket-2.aws_s3_bucket.this[0]",
    }
    assert {x["module_address"] for x in nested["results"]} == {
        "module.test.module.s3-bucket-1",
        "module.test.module.s3-bucket-2",
    }


def test_planned_values_only_plan_with_inline_encryption(run: Run, shared_plans: Path) -> None:
    r = _report(run, shared_plans / "checkov__plan_with_resource_reference_tfplan_graph.json")
    assert r["plan"]["read_from"] == "planned_values"
    assert outcome(r, "s3_bucket_default_encryption", "aws_s3_bucket.example") == "pass"


def test_plans_with_nothing_to_judge_say_so(run: Run, shared_plans: Path) -> None:
    empty = _report(run, shared_plans / "checkov__plan_multiple_providers_tfplan.json")
    assert empty["summary"]["exit_code"] == 0
    assert empty["warnings"] == ["the plan holds no managed resource to judge (after deletions)"]
    gcp = _report(run, shared_plans / "checkov__plan_booleans_tfplan.json")
    assert gcp["warnings"] == ["no resource in this plan is covered by the selected controls"]


def test_demo_plan(run: Run) -> None:
    r = _report(run, ROOT / "examples/demo/plan.json")
    for bucket in ("invoices", "exports"):
        address = f'module.bucket["{bucket}"].aws_s3_bucket.this'
        assert outcome(r, "s3_bucket_default_encryption", address) == "pass", address
    assert outcome(r, "s3_bucket_default_encryption", "aws_s3_bucket.scratch") == "pass"
    assert outcome(r, "s3_bucket_kms_encryption", "aws_s3_bucket.scratch") == "fail"
    assert outcome(r, "s3_bucket_default_encryption", "aws_s3_bucket.old_reports") is None
    assert outcome(r, "rds_instance_storage_encrypted", "module.db.aws_db_instance.main") == "fail"
    assert (
        outcome(r, "rds_cluster_storage_encrypted", "module.db.aws_rds_cluster.analytics") == "pass"
    )
    assert outcome(r, "ebs_volume_encrypted", "aws_ebs_volume.build_cache") == "unknown"
    assert outcome(r, "ebs_volume_encrypted", "aws_ebs_volume.ci_artifacts") == "pass"
    assert outcome(r, "elbv2_listener_encrypted", "aws_lb_listener.http_redirect") == "pass"
    assert outcome(r, "elbv2_listener_encrypted", "aws_lb_listener.admin") == "fail"
    assert "correct-horse-battery-staple" not in json.dumps(r)
