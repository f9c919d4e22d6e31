"""Every output format from an in-process report: golden files, schemas, escaping, counts."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import xml.etree.ElementTree as ET

import jsonschema
import pytest

from soc2opa.formats import FORMATS, FormatOptions, get_format
from soc2opa.formats.github import escape_data, escape_property
from soc2opa.formats.json_format import report_document
from soc2opa.formats.markdown import GITHUB_COMMENT_LIMIT
from soc2opa.formats.sarif import fingerprint
from soc2opa.report import Result
from tests.conftest import ROOT
from tests.report_fixture import REPO, clean_report, sample_report

GOLDEN = ROOT / "tests" / "formats_golden"
SARIF_SCHEMA = json.loads((ROOT / "tests/schemas/sarif-schema-2.1.0.json").read_text())
REPORT_SCHEMA = json.loads((ROOT / "soc2opa/schemas/report.schema.json").read_text())
SUFFIX = {"text": "txt", "json": "json", "sarif": "sarif", "junit": "xml", "markdown": "md",
          "github": "log", "csv": "csv"}  # fmt: skip
OPTIONS = FormatOptions(base_dir=REPO)


def render(name: str, *reports: object, options: FormatOptions = OPTIONS) -> str:
    return get_format(name, options).render_all(list(reports or [sample_report()]))  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_golden_output(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # The SARIF plan location is resolved from the current folder: a fixed one keeps the
    # golden files the same in every checkout.
    monkeypatch.chdir("/")
    for label, report in (("sample", sample_report()), ("clean", clean_report())):
        text = render(name, report)
        golden = GOLDEN / f"{label}.{SUFFIX[name]}"
        if os.environ.get("SOC2OPA_UPDATE_GOLDEN"):
            golden.write_text(text)
        assert golden.is_file(), f"missing {golden} (SOC2OPA_UPDATE_GOLDEN=1 writes it)"
        assert text == golden.read_text(), f"{name} output differs from {golden}"


def test_every_format_is_documented_and_registered() -> None:
    assert set(FORMATS) == set(SUFFIX)
    readme = (ROOT / "README.md").read_text()
    for name, cls in FORMATS.items():
        assert cls.description and f"`{name}`" in readme


def test_sarif_validates_and_carries_rules_fingerprints_locations() -> None:
    log = json.loads(render("sarif"))
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(log)
    run = log["runs"][0]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert set(rules) == {"rds_storage_encrypted", "s3_bucket_versioning", "sns_topic_encrypted"}
    rds = rules["rds_storage_encrypted"]
    assert rds["helpUri"].endswith("docs/controls/rds/rds_storage_encrypted.md")
    assert rds["properties"]["security-severity"] == "8.0"
    assert {"CC6.1", "PI1.5"} <= set(rds["properties"]["tags"])
    assert (
        rds["shortDescription"]["text"] and rds["fullDescription"]["text"] and rds["help"]["text"]
    )
    assert run["automationDetails"]["id"] == "soc2opa/plans/prod.json/"
    results = run["results"]
    assert len(results) == 4  # fail, fail, unknown, waived fail; passes are not alerts
    first = results[0]
    assert first["partialFingerprints"]["soc2opa/v1"] == fingerprint(
        "rds_storage_encrypted", "aws_db_instance.plain"
    )
    loc = first["locations"][0]["physicalLocation"]
    assert loc == {"artifactLocation": {"uri": "infra/main.tf"}, "region": {"startLine": 12}}
    in_module = results[1]
    assert in_module["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == (
        "infra/modules/db/main.tf"
    )
    assert in_module["relatedLocations"][0]["physicalLocation"]["region"]["startLine"] == 30
    waived = [r for r in results if "suppressions" in r]
    assert len(waived) == 1 and waived[0]["suppressions"][0]["status"] == "accepted"
    assert "Org trail bucket" in waived[0]["suppressions"][0]["justification"]
    unknown = next(r for r in results if r["properties"]["status"] == "unknown")
    assert unknown["level"] == "warning"
    strict = json.loads(render("sarif", sample_report(strict=True)))
    assert (
        next(r for r in strict["runs"][0]["results"] if r["properties"]["status"] == "unknown")[
            "level"
        ]
        == "error"
    )


def test_sarif_for_several_plans_has_a_run_each() -> None:
    log = json.loads(render("sarif", sample_report(), clean_report()))
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(log)
    ids = [run["automationDetails"]["id"] for run in log["runs"]]
    assert ids == ["soc2opa/plans/prod.json/", "soc2opa/plans/dev.json/"]


def test_sarif_names_a_plan_outside_the_base_folder_by_an_absolute_uri() -> None:
    import dataclasses

    def uris(plan_name: str) -> set[str]:
        report = dataclasses.replace(sample_report(), plan_name=plan_name)
        log = json.loads(render("sarif", report))
        jsonschema.Draft4Validator(SARIF_SCHEMA).validate(log)
        return {
            loc["physicalLocation"]["artifactLocation"]["uri"]
            for r in log["runs"][0]["results"]
            for loc in r.get("locations", [])
            if loc["physicalLocation"]["artifactLocation"]["uri"].endswith(".json")
        }

    assert uris("/repo/plans/a b.json") == {"plans/a%20b.json"}
    assert uris("/elsewhere/plan.json") == {"file:///elsewhere/plan.json"}
    assert uris("../x/plan.json") == {"file:///x/plan.json"}


def test_junit_parses_with_failures_and_skips() -> None:
    root = ET.fromstring(render("junit"))
    assert root.tag == "testsuites"
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert set(suites) == {"rds_storage_encrypted", "s3_bucket_versioning"}
    rds = suites["rds_storage_encrypted"]
    assert (rds.get("tests"), rds.get("failures"), rds.get("skipped")) == ("4", "2", "1")
    assert suites["s3_bucket_versioning"].get("skipped") == "1"  # waived
    skipped = suites["s3_bucket_versioning"].find("testcase/skipped")
    assert skipped is not None and "waived" in skipped.get("message", "")
    assert root.get("failures") == "2" and root.get("tests") == "5"
    strict = ET.fromstring(render("junit", sample_report(strict=True)))
    assert strict.get("failures") == "3" and strict.get("skipped") == "1"
    case = rds.find("testcase[@name='aws_db_instance.plain']")
    assert case is not None and case.get("file") == "infra/main.tf" and case.get("line") == "12"


def test_csv_has_a_row_per_pair_and_defuses_formulas() -> None:
    rows = list(csv.DictReader(io.StringIO(render("csv"))))
    assert len(rows) == 5
    hostile = next(r for r in rows if r["resource_address"] == "module.db.aws_db_instance.main")
    assert "\n" not in hostile["message"] and hostile["criteria"] == "CC6.1 PI1.5"
    assert "nist_800_53: SC-28" in hostile["frameworks"]
    waived = next(r for r in rows if r["waived"] == "yes")
    assert waived["status"] == "fail" and waived["waiver_owner"] == "'@platform-team"
    assert (hostile["file"], hostile["line"]) == ("infra/modules/db/main.tf", "3")


def test_github_annotations_escape_untrusted_text() -> None:
    lines = render("github").splitlines()
    errors = [ln for ln in lines if ln.startswith("::error ")]
    assert len(errors) == 2
    assert errors[0].startswith("::error file=infra/main.tf,line=12,title=")
    hostile = errors[1]
    assert "c ::error::injected" in hostile and "50%25 off" in hostile  # the line break folded
    assert all(ln.startswith(("::", "Summary")) for ln in lines)
    assert sum(ln.startswith("::notice ") for ln in lines) == 1  # the waived result
    assert escape_property("a:b,c%") == "a%3Ab%2Cc%25"
    assert escape_data("x\ny") == "x%0Ay"


def test_markdown_comment_verdict_table_and_limit() -> None:
    text = render("markdown")
    assert text.startswith("### ❌ soc2opa: 2 failing in `plans/prod.json`")
    assert "<b>" not in text and "\\<b\\>" in text and "@\u2060platform" in text
    assert "expired on 2020-01-31" in text and "matched no result" in text
    clean = render("markdown", clean_report())
    assert clean.startswith("### ✅") and len(clean.splitlines()) < 6
    big = sample_report()
    fail = big.results[0]
    big.results = [
        Result(fail.control, f"aws_db_instance.n{i:05d}", "fail", "x" * 200) for i in range(2000)
    ]
    cut = render("markdown", big)
    assert len(cut) < GITHUB_COMMENT_LIMIT and "more rows were cut" in cut


def test_json_many_plans_and_schema() -> None:
    single = json.loads(render("json"))
    jsonschema.Draft202012Validator(REPORT_SCHEMA).validate(single)
    waived = [r for r in single["results"] if r["waived"]]
    assert len(waived) == 1 and waived[0]["waiver"]["owner"] == "@platform-team"
    assert single["waivers"]["expired"][0]["expires"] == "2020-01-31"
    both = json.loads(render("json", sample_report(), clean_report()))
    for doc in both["reports"]:
        jsonschema.Draft202012Validator(REPORT_SCHEMA).validate(doc)
    assert both["summary"]["exit_code"] == 1 and both["summary"]["plans"] == 2


def test_json_rows_written_as_json_dumps_writes_them() -> None:
    # Controls and results are written by fast paths (json_format._Controls, _Results); the
    # plain data says what the text must be: one plan and several (sharing controls' text),
    # hostile strings, waivers, locations, and metadata no cache key can hold.
    odd = sample_report()
    odd.controls[0] = dataclasses.replace(odd.controls[0], reference=({"not": "hashable"},))  # type: ignore[arg-type]
    odd.controls[1] = dataclasses.replace(odd.controls[1], crosswalk={"x": [{"y": 1}]})  # type: ignore[dict-item]
    one, true = sample_report(), sample_report()
    one.controls[1] = dataclasses.replace(one.controls[1], crosswalk={"x": [1]})  # type: ignore[dict-item]
    true.controls[1] = dataclasses.replace(true.controls[1], crosswalk={"x": [True]})  # type: ignore[dict-item]
    runs = (
        [sample_report()],
        [clean_report()],
        [sample_report(), clean_report(), sample_report(strict=True)],
        [odd, odd],
        [one, true],  # equal in Python (1 == True), written differently
    )
    for reports in runs:
        docs = [report_document(r, OPTIONS) for r in reports]
        plain = docs[0] if len(docs) == 1 else json.loads(render("json", *reports))
        if len(docs) > 1:
            plain["reports"] = docs
        assert render("json", *reports) == json.dumps(plain, indent=2) + "\n"


def test_counts_agree_across_formats() -> None:
    report = sample_report()
    failing = len(report.failing())
    sarif = json.loads(render("sarif"))["runs"][0]["results"]
    assert sum(1 for r in sarif if r["level"] == "error" and "suppressions" not in r) == failing
    assert ET.fromstring(render("junit")).get("failures") == str(failing)
    assert sum(ln.startswith("::error ") for ln in render("github").splitlines()) == failing
    rows = list(csv.DictReader(io.StringIO(render("csv"))))
    assert sum(1 for r in rows if r["status"] == "fail" and r["waived"] == "no") == failing
    assert json.loads(render("json"))["summary"]["failing"] == failing
    assert f"{failing} failing" in render("markdown").splitlines()[0]


def test_text_shows_waivers_locations_and_honours_colour_and_quiet() -> None:
    text = render("text")
    assert "(at infra/main.tf:12)" in text and "module.db at infra/main.tf:30" in text
    assert "WAIVED (1, not failing the run)" in text and "\x1b" not in text
    assert "\x1b[" in render("text", options=FormatOptions(base_dir=REPO, color=True))
    quiet = render("text", options=FormatOptions(base_dir=REPO, quiet=True))
    assert quiet.count("\n") == 1 and quiet.startswith("Summary: 3 failed")
    several = get_format("text", FormatOptions(base_dir=REPO, quiet=True)).render_all(
        [sample_report(), clean_report()]
    )
    lines = several.splitlines()
    assert lines[0].startswith("plans/prod.json: Summary: 3 failed")
    assert lines[1].startswith("plans/dev.json: Summary: 0 failed")
    assert lines[2].startswith("Combined: 2 plans (1 failing)") and len(lines) == 3
    assert "\r" not in text and "\x1b" not in render("text", options=FormatOptions(width=60))


def test_text_wrapping_shortcut_matches_textwrap() -> None:
    import random
    import textwrap

    from soc2opa.formats.text import TextFormat

    fmt = TextFormat(FormatOptions(width=60))
    rnd = random.Random(3)
    pieces = ["word", "a-b", " ", "  ", "\t", "\n", "x" * 30, "é", "\r", "- item", ""]
    texts = ["", " ", "short", " lead", "trail ", "x" * 52, "x" * 53, "y" * 70]
    texts += ["".join(rnd.choice(pieces) for _ in range(rnd.randint(1, 12))) for _ in range(3000)]
    for text in texts:
        for indent, rest in (("      - ", "        "), ("  ", None)):
            want = textwrap.wrap(
                text,
                width=60,
                initial_indent=indent,
                subsequent_indent=rest or indent,
                break_on_hyphens=False,
            )
            assert fmt._wrap(text, indent, rest) == want, repr(text)
