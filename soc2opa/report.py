"""Findings: OPA's raw decisions turned into results per (control, resource) and summaries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from soc2opa import __version__
from soc2opa.address import Address, parse_address
from soc2opa.criteria import CRITERIA, criterion_sort_key
from soc2opa.errors import UsageError
from soc2opa.frameworks import ids_in, sort_key

if TYPE_CHECKING:
    from soc2opa.locations import SourceLocation
    from soc2opa.waivers import Waiver

SEVERITIES = ("low", "medium", "high", "critical")
STATUSES = ("fail", "unknown", "pass")
# A control's overall status: a result status, or one of the outcomes without results.
CONTROL_STATUSES = (
    *STATUSES,
    "not_in_configuration",
    "needs_runtime_evidence",
    "not_applicable",
)


@dataclass(frozen=True)
class Control:
    """A control as the bundle describes it, with its outcome on this plan."""

    id: str
    title: str
    description: str
    service: str
    category: str
    severity: str
    criteria: tuple[str, ...]
    resource_types: tuple[str, ...]
    remediation: str
    remediation_terraform: str
    crosswalk: dict[str, list[str]]
    counts: dict[str, int]
    help_uri: str = ""
    scope: str = "resource"
    absent: bool = False
    runtime_only: bool = False
    runtime_evidence: str = ""
    reference: tuple[str, ...] = ()

    @property
    def status(self) -> str:
        """One of CONTROL_STATUSES.

        needs_runtime_evidence: a plan cannot decide the control; not_in_configuration: an
        account-wide setting the plan does not manage; not_applicable: nothing to judge.
        """
        if self.runtime_only:
            return "needs_runtime_evidence"
        for status in STATUSES:
            if self.counts[status]:
                return status
        return "not_in_configuration" if self.absent else "not_applicable"


@dataclass(frozen=True)
class Result:
    """The outcome of one control on one resource."""

    control: Control
    address: str
    status: str
    message: str | None
    waiver: Waiver | None = None
    location: SourceLocation | None = None

    @property
    def waived(self) -> bool:
        """Whether a live waiver accepts this result (its status stays what OPA decided)."""
        return self.waiver is not None

    @property
    def _parsed(self) -> Address | None:
        # parse_address keeps its answers; a cached_property here takes a lock per result.
        try:
            return parse_address(self.address)
        except ValueError:
            return None

    @property
    def module_address(self) -> str:
        """The module path of the resource, "" in the root module."""
        return self._parsed.module if self._parsed else ""

    @property
    def resource_type(self) -> str:
        """The Terraform resource type."""
        return self._parsed.type if self._parsed else ""


@dataclass
class Report:
    """Everything one evaluation of one plan found, ready for any output format."""

    plan_name: str
    plan: dict[str, Any]
    bundle_revision: str
    bundle_source: str
    engine: str
    fail_on: str
    strict: bool
    selected_controls: tuple[str, ...]
    selected_criteria: tuple[str, ...]
    controls: list[Control]
    results: list[Result]
    generated_at: str = field(
        default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds")
    )
    tool_version: str = __version__
    excluded_controls: tuple[str, ...] = ()
    baseline_elsewhere: tuple[str, ...] = ()
    framework: str = "soc2"
    waivers_file: str | None = None
    # Who chose the waivers file ("--waivers" or the config file's path) and its SHA-256, so
    # that a waivers file a scanned repository's config picked is always named (docs/security.md).
    waivers_from: str | None = None
    waivers_sha256: str | None = None
    covered_types: tuple[str, ...] = ()
    expired_waivers: list[Waiver] = field(default_factory=list)
    unmatched_waivers: list[Waiver] = field(default_factory=list)
    opa: dict[str, str | None] = field(default_factory=dict)
    # "plan", or "state" for `terraform show -json` of a state (deployed resources).
    kind: str = "plan"

    def counts(self) -> dict[str, int]:
        """Results by status."""
        out = dict.fromkeys(STATUSES, 0)
        for r in self.results:
            out[r.status] += 1
        return out

    def control_counts(self) -> dict[str, int]:
        """Controls by overall status."""
        out = dict.fromkeys(CONTROL_STATUSES, 0)
        for c in self.controls:
            out[c.status] += 1
        return out

    def with_status(self, status: str) -> list[Control]:
        """The selected controls whose overall status is status."""
        return [c for c in self.controls if c.status == status]

    def missing_settings(self) -> list[Control]:
        """Account-wide settings this plan does not manage and no baseline elsewhere proves,
        at or above --fail-on: each fails the run once (never once per resource)."""
        floor = SEVERITIES.index(self.fail_on)
        return [
            c
            for c in self.with_status("not_in_configuration")
            if c.id not in self.baseline_elsewhere
            and "all" not in self.baseline_elsewhere
            and SEVERITIES.index(c.severity) >= floor
        ]

    def coverage(self) -> dict[str, Any]:
        """What the plan holds against what the selected controls judged."""
        types: dict[str, int] = self.plan.get("resource_types") or {}
        covered = set(self.covered_types)
        judged = {r.address for r in self.results}
        return {
            "resources": self.plan.get("resources_judged", 0),
            "resources_judged": len(judged),
            "uncovered_types": {t: n for t, n in sorted(types.items()) if t not in covered},
            "controls": {
                s: [c.id for c in self.with_status(s)]
                for s in ("not_applicable", "not_in_configuration", "needs_runtime_evidence")
            },
        }

    def by_criterion(self) -> dict[str, dict[str, Any]]:
        """Result counts and controls per SOC 2 criterion, in TSC order.

        Besides result counts, each criterion counts its controls that are not in this
        configuration, need runtime evidence, or had nothing to judge, so that a criterion with
        few failures is not read as covered.
        """
        empty = dict.fromkeys(CONTROL_STATUSES[len(STATUSES) :], 0)
        out: dict[str, dict[str, Any]] = {}
        for c in self.controls:
            for crit in c.criteria:
                entry = out.setdefault(
                    crit,
                    {
                        "name": CRITERIA.get(crit, ""),
                        **dict.fromkeys(STATUSES, 0),
                        "controls": [],
                        "controls_without_results": dict(empty),
                    },
                )
                entry["controls"].append(c.id)
                for status in STATUSES:
                    entry[status] += c.counts[status]
                if c.status in empty:
                    entry["controls_without_results"][c.status] += 1
        return dict(sorted(out.items(), key=lambda kv: criterion_sort_key(kv[0])))

    def by_framework(self, framework: str | None = None) -> dict[str, dict[str, Any]]:
        """Result counts and controls per id of a framework (soc2 groups by criterion)."""
        framework = framework or self.framework
        if framework == "soc2":
            return self.by_criterion()
        out: dict[str, dict[str, Any]] = {}
        unmapped: list[Control] = []
        for c in self.controls:
            ids = ids_in(framework, c.criteria, c.crosswalk)
            if not ids:
                unmapped.append(c)
            for fid in ids:
                entry = out.setdefault(fid, {**dict.fromkeys(STATUSES, 0), "controls": []})
                entry["controls"].append(c.id)
                for status in STATUSES:
                    entry[status] += c.counts[status]
        ordered = dict(sorted(out.items(), key=lambda kv: sort_key(kv[0])))
        if unmapped:
            ordered["(unmapped)"] = {
                **{s: sum(c.counts[s] for c in unmapped) for s in STATUSES},
                "controls": [c.id for c in unmapped],
            }
        return ordered

    def failing(self) -> list[Result]:
        """Results that fail the run: fail (and unknown with --strict) at or above --fail-on."""
        floor = SEVERITIES.index(self.fail_on)
        bad = {"fail", "unknown"} if self.strict else {"fail"}
        return [
            r
            for r in self.results
            if r.status in bad and not r.waived and SEVERITIES.index(r.control.severity) >= floor
        ]

    def waived(self) -> list[Result]:
        """Results a live waiver accepts; they keep their status but never fail the run."""
        return [r for r in self.results if r.waived]

    @property
    def exit_code(self) -> int:
        """1 when any result or missing account-wide setting fails the run, else 0."""
        return 1 if self.failing() or self.missing_settings() else 0

    def warnings(self) -> list[str]:
        """Things a reader should not miss: an empty plan, nothing judged, waivers gone stale."""
        out = []
        if self.plan.get("resources_judged", 0) == 0:
            out.append("the plan holds no managed resource to judge (after deletions)")
        elif not self.results:
            out.append("no resource in this plan is covered by the selected controls")
        for w in self.expired_waivers:
            out.append(f"{w.label()} expired on {w.expires.isoformat()} and no longer applies")
        for w in self.unmatched_waivers:
            out.append(f"{w.label()} matched no result")
        out += [w for w in self.plan.get("warnings", []) if isinstance(w, str)]
        return out


def _control(raw: dict[str, Any], manages_aws: bool = True) -> Control:
    meta = raw["meta"]
    custom = meta.get("custom", {})
    remediation = custom.get("remediation", {})
    return Control(
        id=custom["id"],
        title=meta.get("title", custom["id"]),
        description=meta.get("description", ""),
        service=custom.get("service", ""),
        category=custom.get("category", ""),
        severity=custom.get("severity", "medium"),
        criteria=tuple(custom.get("criteria", [])),
        resource_types=tuple(custom.get("resource_types", [])),
        remediation=remediation.get("text", ""),
        remediation_terraform=remediation.get("terraform", ""),
        crosswalk=custom.get("crosswalk", {}),
        help_uri=custom.get("help_uri", ""),
        scope=custom.get("scope", "resource"),
        absent=manages_aws and raw.get("absent") is True,
        runtime_only=raw.get("runtime") is True,
        runtime_evidence=custom.get("runtime_evidence", ""),
        reference=tuple(custom.get("reference", [])),
        counts={
            "pass": len(raw.get("pass", [])),
            "fail": len(raw.get("fail", {})),
            "unknown": len(raw.get("unknown", {})),
        },
    )


def _check_ids(controls: dict[str, Control], ids: tuple[str, ...], flag: str) -> None:
    for cid in ids:
        if cid not in controls:
            import difflib

            close = difflib.get_close_matches(cid, list(controls), n=1)
            hint = f"; did you mean {close[0]}?" if close else "; see `soc2opa controls`"
            raise UsageError(f"{flag}: no control {cid!r} in this bundle{hint}")


def normalize_criterion(crit: str, flag: str = "--criterion") -> str:
    """A criterion id in canonical case (cc6.1 -> CC6.1); UsageError when it is not one."""
    canonical = {c.upper(): c for c in CRITERIA}.get(crit.strip().upper())
    if canonical is None:
        raise UsageError(f"{flag}: {crit!r} is not a Trust Services Criteria id (e.g. CC6.1)")
    return canonical


def _select(
    controls: dict[str, Control],
    ids: tuple[str, ...],
    criteria: tuple[str, ...],
    excluded: tuple[str, ...] = (),
    excluded_criteria: tuple[str, ...] = (),
) -> set[str]:
    _check_ids(controls, ids, "--control")
    _check_ids(controls, excluded, "--exclude-control")
    wanted = {normalize_criterion(c) for c in criteria}
    unwanted = {normalize_criterion(c, "--exclude-criterion") for c in excluded_criteria}
    chosen = set(ids) if ids else set(controls)
    if wanted:
        chosen = {cid for cid in chosen if set(controls[cid].criteria) & wanted}
    if unwanted:
        chosen = {cid for cid in chosen if not set(controls[cid].criteria) & unwanted}
    chosen -= set(excluded)
    if not chosen:
        raise UsageError(
            "the selection (--control, --criterion, their excludes or the config file) matches "
            "no control; see `soc2opa controls list`"
        )
    return chosen


def build_report(
    raw: dict[str, Any],
    *,
    plan_name: str,
    bundle_source: str,
    engine: str,
    fail_on: str = "low",
    strict: bool = False,
    controls: tuple[str, ...] = (),
    criteria: tuple[str, ...] = (),
    exclude_controls: tuple[str, ...] = (),
    exclude_criteria: tuple[str, ...] = (),
    baseline_elsewhere: tuple[str, ...] = (),
    framework: str = "soc2",
) -> Report:
    """Turn data.soc2opa.main.report into a Report, keeping only the selected controls."""
    # An account-wide setting is only "not in this configuration" of a configuration that
    # manages AWS at all; an empty or other-cloud plan says nothing about the AWS account.
    types = raw["plan"].get("resource_types") or {}
    manages_aws = any(str(t).startswith("aws_") for t in types)
    all_controls = {cid: _control(dec, manages_aws) for cid, dec in raw["controls"].items()}
    chosen = _select(all_controls, controls, criteria, exclude_controls, exclude_criteria)
    kept = sorted((all_controls[c] for c in chosen), key=lambda c: c.id)
    results = []
    for control in kept:
        decision = raw["controls"][control.id]
        notes = decision.get("notes", {})
        for address in decision.get("pass", []):
            results.append(Result(control, address, "pass", notes.get(address)))
        for status in ("fail", "unknown"):
            for address, message in decision.get(status, {}).items():
                results.append(Result(control, address, status, message))
    results.sort(key=lambda r: (r.control.id, r.address))
    return Report(
        plan_name=plan_name,
        plan=raw["plan"],
        bundle_revision=str(raw.get("bundle_revision", "")),
        bundle_source=bundle_source,
        engine=engine,
        fail_on=fail_on,
        strict=strict,
        selected_controls=controls,
        selected_criteria=tuple(normalize_criterion(c) for c in criteria),
        controls=kept,
        results=results,
        excluded_controls=exclude_controls,
        baseline_elsewhere=baseline_elsewhere,
        framework=framework,
        covered_types=tuple(sorted({t for c in all_controls.values() for t in c.resource_types})),
    )
