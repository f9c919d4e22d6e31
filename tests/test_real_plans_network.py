"""Network, EC2 and load balancer controls on the deliberately insecure goat plan (../shared/plans)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import Run, outcome

GOAT = "checkov__plan_tfplan.json"


def _report(run: Run, plan: Path) -> dict:
    proc = run("eval", str(plan), "--format", "json")
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)


def test_goat_instances_are_public_and_expose_ssh(run: Run, shared_plans: Path) -> None:
    r = _report(run, shared_plans / GOAT)
    for inst in ("aws_instance.web_host", "aws_instance.db_app"):
        # web_subnet maps public IPs on launch; the web-node group opens 22 to 0.0.0.0/0.
        assert outcome(r, "ec2_instance_no_public_ip", inst) == "fail"
        assert outcome(r, "ec2_instance_sensitive_ports_not_internet_exposed", inst) == "fail"
        assert outcome(r, "ec2_instance_imdsv2_required", inst) == "fail"
        assert outcome(r, "ec2_instance_detailed_monitoring", inst) == "fail"
        assert outcome(r, "ec2_instance_in_vpc", inst) == "pass"
        # t2 instances cannot be EBS-optimized, so they are not judged.
        assert outcome(r, "ec2_instance_ebs_optimized", inst) is None
    assert outcome(r, "ec2_instance_ssm_managed", "aws_instance.web_host") == "fail"


def test_goat_network(run: Run, shared_plans: Path) -> None:
    r = _report(run, shared_plans / GOAT)
    assert outcome(r, "vpc_flow_logs_enabled", "aws_vpc.web_vpc") == "pass"
    assert outcome(r, "vpc_flow_logs_enabled", "aws_vpc.eks_vpc") == "fail"
    for vpc in ("aws_vpc.web_vpc", "aws_vpc.eks_vpc"):
        assert outcome(r, "vpc_default_security_group_closed", vpc) == "fail"
        # web_vpc routes both subnets to its gateway; eks_vpc routes none.
        assert outcome(r, "vpc_subnets_public_private_separated", vpc) == "fail"
    assert outcome(r, "vpc_subnet_no_auto_public_ip", "aws_subnet.web_subnet") == "fail"
    assert outcome(r, "vpc_security_group_attached", "aws_security_group.web-node") == "pass"
    assert outcome(r, "vpc_igw_attached_to_authorized_vpc", "aws_internet_gateway.web_igw") == (
        "pass"
    )
    assert outcome(r, "elb_access_logging_enabled", "aws_elb.weblb") == "fail"
    assert outcome(r, "clb_uses_acm_certificate", "aws_elb.weblb") == "pass"


def test_goat_account_defaults_are_reported_once(run: Run, shared_plans: Path) -> None:
    r = _report(run, shared_plans / GOAT)
    for cid in ("ebs_encryption_by_default", "ec2_instance_metadata_defaults_imdsv2"):
        control = next(c for c in r["controls"] if c["id"] == cid)
        assert control["status"] == "not_in_configuration"
        assert r["summary"]["missing_settings"].count(cid) == 1
        assert not [x for x in r["results"] if x["control_id"] == cid]
