"""An in-process Report with every case the formats must handle (no OPA needed)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from soc2opa.locations import SourceLine, SourceLocation
from soc2opa.report import Control, Report, Result
from soc2opa.waivers import Waiver

REPO = Path("/repo")


def _control(cid: str, severity: str, criteria: tuple[str, ...], counts: dict[str, int]) -> Control:
    return Control(
        id=cid, title=f"Title of {cid}", description=f"Why {cid} matters.", service=cid.split("_")[0],
        category="encryption", severity=severity, criteria=criteria, resource_types=("aws_x",),
        remediation=f"Fix {cid} like this.", remediation_terraform='resource "aws_x" "y" {\n  on = true\n}\n',
        crosswalk={"nist_800_53": ["SC-28"], "iso_27001": ["A.8.24"]}, counts=counts,
        help_uri=f"docs/controls/{cid.split('_')[0]}/{cid}.md",
    )  # fmt: skip


def sample_report(strict: bool = False) -> Report:
    """Two failing controls, an unknown, passes, a waived fail, hostile strings, locations."""
    rds = _control(
        "rds_storage_encrypted", "high", ("CC6.1", "PI1.5"), {"fail": 2, "unknown": 1, "pass": 1}
    )
    s3 = _control("s3_bucket_versioning", "medium", ("A1.2",), {"fail": 1, "unknown": 0, "pass": 0})
    idle = _control("sns_topic_encrypted", "low", ("CC6.1",), {"fail": 0, "unknown": 0, "pass": 0})
    waiver = Waiver(index=1, control="s3_*", resource='module.logs["a"].*', reason="Org trail bucket | kept <elsewhere>",
                    owner="@platform-team", expires=date(2099, 12, 31), ticket="SEC-42", file="waivers.yaml")  # fmt: skip
    main_tf = SourceLine(REPO / "infra" / "main.tf", 12)
    module_tf = SourceLine(REPO / "infra" / "modules" / "db" / "main.tf", 3)
    results = [
        Result(rds, "aws_db_instance.plain", "fail", "storage_encrypted is false; expected true",
               location=SourceLocation(main_tf)),
        Result(rds, "module.db.aws_db_instance.main", "fail",
               "50% off, a,b: c\r\n::error::injected | `tick` <b>x</b> =SUM(A1)",
               location=SourceLocation(module_tf, (("module.db", SourceLine(REPO / "infra" / "main.tf", 30)),))),
        Result(rds, "aws_db_instance.later", "unknown", "storage_encrypted is known only after apply"),
        Result(rds, "aws_db_instance.good", "pass", None),
        Result(s3, 'module.logs["a"].aws_s3_bucket.this', "fail", "versioning is off", waiver=waiver),
    ]  # fmt: skip
    expired = Waiver(index=2, control="rds_*", resource="*", reason="old", owner="dba",
                     expires=date(2020, 1, 31), file="waivers.yaml")  # fmt: skip
    unmatched = Waiver(index=3, control="ebs_*", resource="aws_ebs_volume.gone", reason="gone",
                       owner="ops", expires=date(2099, 1, 1), file="waivers.yaml")  # fmt: skip
    return Report(
        plan_name="plans/prod.json",
        plan={"format_version": "1.2", "terraform_version": "1.11.4", "resources_judged": 5,
              "source": "resource_changes"},
        bundle_revision="0123456789abcdef", bundle_source="bundles/soc2opa.tar.gz",
        engine="opa-local", fail_on="low", strict=strict, selected_controls=(), selected_criteria=(),
        controls=[rds, s3, idle], results=results, generated_at="2026-11-25T20:00:00+00:00",
        tool_version="0.1.0", waivers_file="waivers.yaml", waivers_from=".soc2opa.yaml",
        waivers_sha256="ab" * 32, expired_waivers=[expired],
        unmatched_waivers=[unmatched],
    )  # fmt: skip


def clean_report() -> Report:
    """A plan where everything passes."""
    ok = _control("rds_storage_encrypted", "high", ("CC6.1",), {"fail": 0, "unknown": 0, "pass": 1})
    return Report(
        plan_name="plans/dev.json",
        plan={"format_version": "1.2", "terraform_version": "1.11.4", "resources_judged": 1,
              "source": "resource_changes"},
        bundle_revision="0123456789abcdef", bundle_source="bundles/soc2opa.tar.gz",
        engine="opa-local", fail_on="low", strict=False, selected_controls=(), selected_criteria=(),
        controls=[ok], results=[Result(ok, "aws_db_instance.ok", "pass", None)],
        generated_at="2026-11-25T20:00:00+00:00", tool_version="0.1.0",
    )  # fmt: skip
