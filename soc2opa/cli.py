"""The soc2opa command line: eval, build, controls."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from soc2opa.batch import evaluate_all, expand_plan_args, open_plans
from soc2opa.config import Settings, find_config, load_config, merge, split_list
from soc2opa.engine import CATALOG_QUERY, Engine, LocalEngine, RemoteEngine
from soc2opa.errors import EngineError, UsageError
from soc2opa.formats import FORMATS, FormatOptions, get_format
from soc2opa.formats.base import plain
from soc2opa.frameworks import FRAMEWORKS, framework_name, ids_in
from soc2opa.guard import guarded
from soc2opa.install import PINNED_OPA_VERSION, install_opa
from soc2opa.output import SECONDS, seconds, write_atomic, write_stdout
from soc2opa.report import SEVERITIES, Report, build_report, normalize_criterion
from soc2opa.shards import jobs_wanted
from soc2opa.statefile import judged_input
from soc2opa.tools import default_bundle, find_opa
from soc2opa.untrusted import escape
from soc2opa.waivers import apply_waivers, load_waivers, today_utc, waivers_data
from soc2opa.warm_commands import warm_group, warm_wanted

if TYPE_CHECKING:
    from soc2opa.planfile import PlanFile


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from soc2opa.doctor import version_text

    click.echo(version_text())
    ctx.exit()


class _Commands(click.Group):
    """The top-level group; `evidence` (store, signatures, exports) is imported when used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), "evidence"})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name == "evidence":
            from soc2opa.evidence.cli_group import evidence_group

            return evidence_group
        return super().get_command(ctx, cmd_name)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show soc2opa's version, the opa it runs (path, version) and the bundle revision.",
)
def cli() -> None:
    """SOC 2 checks for Terraform plans on AWS, evaluated by Open Policy Agent."""


EVAL_EPILOG = """\b
PLAN is a `terraform show -json` file, a folder (its *.json files) or - for stdin:
  terraform show -json tfplan | soc2opa eval -

\b
Exit codes:
  0  no failing result at or above --fail-on (waived results never fail)
  1  at least one failing result at or above --fail-on, over all plans
     (with --strict, unknown results count as failing)
  2  usage, input, config, waiver or engine error (one line on stderr)

\b
Environment variables:
  SOC2OPA_OPA        the opa binary (after --opa-path)
  SOC2OPA_BUNDLE     the policy bundle (after --bundle)
  SOC2OPA_OPA_TOKEN  bearer token sent to --opa-url
  SOC2OPA_WARM       1: same as --warm, 0: same as --no-warm (default: warm outside CI)
  SOC2OPA_WARM_IDLE  seconds a warm server waits for the next plan (default 900)
  SOC2OPA_JOBS       opa processes per plan, as --jobs (default: usable CPUs, at most 4)
  NO_COLOR           set to anything: no colours (same as --no-color)
  SOC2OPA_DEBUG      set to 1: show tracebacks of internal errors

\b
Settings also come from .soc2opa.yaml (or [tool.soc2opa] in pyproject.toml) in the
current folder; flags override them; --no-config ignores the file. See docs/config.md.
"""


def _color_wanted(no_color: bool) -> bool:
    return not no_color and not os.environ.get("NO_COLOR") and sys.stdout.isatty()


def _width() -> int:
    if not sys.stdout.isatty():
        return 100
    return max(60, min(shutil.get_terminal_size((100, 24)).columns, 140))


def _settings(config: Path | None, no_config: bool, flags: dict[str, Any]) -> Settings:
    if config and no_config:
        raise UsageError("--config and --no-config exclude each other")
    base = Settings()
    path = config or (None if no_config else find_config(Path.cwd()))
    if path is not None:
        base = load_config(path)
    return merge(base, flags)


def _output_specs(settings: Settings) -> list[tuple[str, Path, bool]]:
    """(format, file, whether the format was named) for each --output."""
    specs = []
    for spec in settings.outputs:
        name, sep, file = spec.partition("=")
        if sep and name.lower() in FORMATS and file:
            specs.append((name.lower(), Path(file), True))
        elif sep and name and file and "/" not in name and "." not in name:
            raise UsageError(
                f"--output: unknown format {name!r} in {spec!r} (formats: {', '.join(FORMATS)})"
            )
        else:
            specs.append((settings.format, Path(spec), False))
    chosen = settings.sources.get("outputs", "command line")
    for _, path, _named in specs:
        if chosen != "command line":
            _inside_current_folder(path, chosen)
        folder = path.parent if str(path.parent) else Path(".")
        if not folder.is_dir():
            raise UsageError(f"--output: cannot write {path}: no such folder {folder}")
    return specs


def _inside_current_folder(path: Path, config: str) -> None:
    """A config file (the scanned repository's) writes reports only under the current folder:
    an `outputs` entry such as /etc/cron.d/x or ../../.ssh/authorized_keys is refused."""
    here = Path.cwd().resolve()
    where = (here / path).parent.resolve() / path.name
    if path.is_absolute() or ".." in path.parts or not where.is_relative_to(here):
        raise UsageError(
            f"{config}: outputs: {path} is outside the current folder; a config file writes "
            "reports only under it (give other places with -o)"
        )


def _engine(settings: Settings, opa_url: str | None) -> tuple[Engine, str]:
    given = settings.sources.get("timeout", "command line")
    origin = "--timeout" if given == "command line" else f"{given}: timeout"
    timeout = seconds(settings.timeout, origin)
    if opa_url:
        if settings.bundle and "bundle" in settings.sources:
            raise UsageError(
                "--bundle and --opa-url exclude each other (the server has its bundle)"
            )
        remote = RemoteEngine(opa_url, timeout=timeout, token=os.environ.get("SOC2OPA_OPA_TOKEN"))
        return remote, remote.url
    bundle_path = settings.bundle or default_bundle()
    return LocalEngine(find_opa(settings.opa_path), bundle_path, timeout=timeout), str(bundle_path)


@cli.command("eval", epilog=EVAL_EPILOG)
@click.argument("plans", nargs=-1, metavar="PLAN...")
@click.option(
    "--bundle", type=click.Path(path_type=Path), help="Policy bundle (default: the built-in one)."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(sorted(FORMATS), case_sensitive=False),
    help="Report format on stdout (default: text).",
)
@click.option(
    "--fail-on",
    type=click.Choice(SEVERITIES, case_sensitive=False),
    help="Lowest severity of a failing result that makes the exit code 1 (default: low).",
)
@click.option(
    "--strict/--no-strict",
    default=None,
    help="Results unknown until apply also fail the run.",
)
@click.option(
    "--control",
    "controls",
    multiple=True,
    metavar="ID[,ID]",
    help="Only these controls (repeatable, comma lists accepted).",
)
@click.option(
    "--exclude-control",
    "exclude_controls",
    multiple=True,
    metavar="ID[,ID]",
    help="Leave these controls out (repeatable, comma lists accepted).",
)
@click.option(
    "--criterion",
    "criteria",
    multiple=True,
    metavar="ID[,ID]",
    help="Only controls mapped to these SOC 2 criteria, e.g. CC6.1 or cc6.1 (repeatable).",
)
@click.option(
    "--exclude-criterion",
    "exclude_criteria",
    multiple=True,
    metavar="ID[,ID]",
    help="Leave out controls mapped to these criteria (repeatable).",
)
@click.option(
    "--framework",
    metavar="NAME",
    help="Group the summary by soc2 (default), nist-800-53, iso-27001 or hipaa.",
)
@click.option(
    "--evidence",
    metavar="STORE",
    help="Record this evaluation in an append-only evidence store (an SQLite file or a "
    "postgresql:// URL); see docs/evidence.md.",
)
@click.option(
    "--baseline-elsewhere",
    "baseline_elsewhere",
    multiple=True,
    metavar="ID[,ID]",
    help="Account-wide controls proven by another stack (or 'all'): when this plan does not "
    "manage the setting, the control is reported but does not fail the run.",
)
@click.option(
    "--waivers",
    type=click.Path(path_type=Path),
    help="YAML file of accepted findings (reason, owner, expiry); see docs/waivers.md.",
)
@click.option(
    "--tf-dir",
    type=click.Path(path_type=Path),
    help="The Terraform root module: findings point at the .tf file and line.",
)
@click.option(
    "--config",
    "config",
    type=click.Path(path_type=Path),
    help="Config file (default: ./.soc2opa.yaml or [tool.soc2opa] in ./pyproject.toml).",
)
@click.option("--no-config", is_flag=True, help="Ignore any config file.")
@click.option(
    "--quiet",
    "-q",
    is_flag=True,
    help="Print the summary line only (several plans: one per plan, named, then the combined one).",
)
@click.option("--no-color", is_flag=True, help="No colours (also when NO_COLOR is set).")
@click.option(
    "--opa-url",
    metavar="URL",
    help="Query this OPA server (which serves the soc2opa bundle) instead of a local opa.",
)
@click.option(
    "--opa-path",
    metavar="PATH",
    help="The opa binary to run (default: $SOC2OPA_OPA, this install's .tools/bin, PATH).",
)
@click.option(
    "--output",
    "-o",
    "outputs",
    multiple=True,
    metavar="[FORMAT=]FILE",
    help="Write a report to FILE (repeatable: -o sarif=out.sarif -o junit=out.xml); "
    "a bare FILE takes --format and replaces stdout.",
)
@click.option("--timeout", type=SECONDS, help="Seconds OPA may take (default: 600).")
@click.option(
    "--no-select",
    is_flag=True,
    help="Compile every control of the bundle, not only those the plan's resource types reach "
    "(same report, slower; see docs/performance.md).",
)
@click.option(
    "--warm/--no-warm",
    default=None,
    help="Ask a warm opa server kept between runs; start one for the next run when none "
    "answers (same report, no compile; see docs/performance.md). Default: on, except when "
    "the CI environment variable is set; SOC2OPA_WARM=0 or 1 overrides.",
)
@click.option(
    "--jobs",
    "-j",
    type=int,
    default=None,
    metavar="N",
    help="opa processes that share out a plan's controls (same report; see "
    "docs/performance.md). Default: the usable CPUs, at most 4; SOC2OPA_JOBS overrides.",
)
def eval_command(
    plans: tuple[str, ...], bundle: Path | None, fmt: str | None, fail_on: str | None,
    strict: bool | None, controls: tuple[str, ...], exclude_controls: tuple[str, ...],
    criteria: tuple[str, ...], exclude_criteria: tuple[str, ...],
    evidence: str | None, framework: str | None, baseline_elsewhere: tuple[str, ...],
    waivers: Path | None,
    tf_dir: Path | None, config: Path | None, no_config: bool, quiet: bool, no_color: bool,
    opa_url: str | None, opa_path: str | None, outputs: tuple[str, ...], timeout: float | None,
    no_select: bool, warm: bool | None, jobs: int | None,
) -> None:  # fmt: skip
    """Judge `terraform show -json` plans against the SOC 2 controls."""
    if not plans:
        raise UsageError("eval: give a plan file, a folder of plans, or - to read stdin")
    settings = _settings(config, no_config, {
        "bundle": bundle, "format": fmt.lower() if fmt else None,
        "fail_on": fail_on.lower() if fail_on else None, "strict": strict,
        "controls": split_list(controls), "exclude_controls": split_list(exclude_controls),
        "criteria": split_list(criteria), "exclude_criteria": split_list(exclude_criteria),
        "baseline_elsewhere": split_list(baseline_elsewhere),
        "framework": framework_name(framework) if framework else None,
        "waivers": waivers, "tf_dir": tf_dir, "opa_path": opa_path,
        "outputs": split_list(outputs) if outputs else None, "timeout": timeout,
    })  # fmt: skip
    if settings.format not in FORMATS:
        raise UsageError(f"{settings.source}: format must be one of {', '.join(FORMATS)}")
    specs = _output_specs(settings)
    loaded = load_waivers(settings.waivers) if settings.waivers else []
    if evidence is not None:
        from soc2opa.evidence.store import store_target
        from soc2opa.evidence.waiver_records import evidence_waivers

        # Waivers recorded in the evidence store apply too; the records name the ones used.
        loaded += evidence_waivers(store_target(evidence), first_index=len(loaded) + 1)
    if settings.tf_dir is not None and not settings.tf_dir.is_dir():
        raise UsageError(f"--tf-dir: {settings.tf_dir} is not a folder")
    engine, source = _engine(settings, opa_url)
    if isinstance(engine, LocalEngine):
        engine.select = not no_select
        engine.warm = warm_wanted(warm)
        engine.jobs = jobs_wanted(jobs)
    names = expand_plan_args(plans)
    started = _now()
    with open_plans(names, timeout=engine.timeout) as files:
        judged = [judged_input(f) for f in files]
        raws = evaluate_all(engine, [j.plan for j in judged])
        plan_names = [f.name for f in files]
        # Only the evidence store keeps digests (a 100,000-resource plan takes 0.2 s to hash).
        digests = _plan_digests(files) if evidence is not None else []
    reports = [
        build_report(
            raw, plan_name=name, bundle_source=source, engine=engine.name,
            fail_on=settings.fail_on, strict=settings.strict, controls=settings.controls,
            criteria=settings.criteria, exclude_controls=settings.exclude_controls,
            exclude_criteria=settings.exclude_criteria,
            baseline_elsewhere=settings.baseline_elsewhere,
            framework=framework_name(settings.framework),
        )
        for raw, name in zip(raws, plan_names, strict=True)
    ]  # fmt: skip
    for report, raw, j in zip(reports, raws, judged, strict=True):
        report.opa = engine.identity(raw)
        report.kind = j.kind
    apply_waivers(reports, loaded, today_utc())
    if settings.waivers is not None:
        _name_waivers_file(reports, settings)
    if evidence is not None:
        from soc2opa.evidence.store import store_target

        _record(store_target(evidence), reports, digests, started, engine)
    if settings.tf_dir is not None:
        from soc2opa.locations import locate_results

        locate_results(reports, settings.tf_dir)
    file_options = FormatOptions(color=False)
    for name, path, _named in specs:
        write_atomic(path, get_format(name, file_options).render_all(reports), names)
    if all(named for _, _, named in specs):
        options = FormatOptions(color=_color_wanted(no_color), width=_width(), quiet=quiet)
        write_stdout(get_format(settings.format, options).render_all(reports))
    sys.exit(max(r.exit_code for r in reports))


def _name_waivers_file(reports: list[Report], settings: Settings) -> None:
    """Every report names the waivers file, who chose it and its digest, even when it waived
    nothing: a config file in the scanned repository may choose it (docs/security.md)."""
    from soc2opa.evidence.record import sha256_file

    assert settings.waivers is not None
    chosen = settings.sources.get("waivers", "command line")
    digest = sha256_file(settings.waivers)
    for report in reports:
        report.waivers_file = str(settings.waivers)
        report.waivers_from = "--waivers" if chosen == "command line" else chosen
        report.waivers_sha256 = digest


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _plan_digests(files: list[PlanFile]) -> list[str]:
    """The SHA-256 of each plan file; stdin is never saved, so its digest is that of the
    validated bytes read from it."""
    from soc2opa.evidence.record import sha256_file

    return [
        hashlib.sha256(f.data).hexdigest()
        if not Path(f.name).is_file()
        else sha256_file(Path(f.name)) or ""
        for f in files
    ]


def _record(
    store: str | Path, reports: list[Any], digests: list[str], started: str, engine: Engine
) -> None:
    from soc2opa.evidence.record import evaluation_record, sha256_file

    opa_path = getattr(engine, "opa", None)
    opa = {
        "opa_path": str(opa_path) if opa_path else None,
        "opa_sha256": sha256_file(Path(opa_path)) if opa_path else None,
        "opa_version": reports[0].opa.get("version") if reports else None,
        "engine": engine.name,
    }
    from soc2opa.evidence.store import append

    bundle = getattr(engine, "bundle", None)
    bundle_sha = sha256_file(Path(bundle)) if bundle else None
    ended = _now()
    for report, digest in zip(reports, digests, strict=True):
        record = evaluation_record(
            report, plan_sha256=digest, started_at=started, ended_at=ended, opa=opa,
            bundle_sha256=bundle_sha,
        )  # fmt: skip
        append(store, record)


@cli.command("waivers")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--data",
    "as_data",
    is_flag=True,
    help="Print the document OPA and Conftest load as data (data.soc2opa_waivers).",
)
def waivers_command(files: tuple[Path, ...], as_data: bool) -> None:
    """Check waivers files: every entry complete, which ones are live and which expired."""
    loaded = [w for file in files for w in load_waivers(file)]
    if as_data:
        click.echo(json.dumps(waivers_data(loaded), indent=2))
        return
    today = today_utc()
    for w in loaded:
        state = "expired" if w.expired(today) else "live"
        click.echo(f"{state:<8} {w.label()}: until {w.expires.isoformat()}, owner {plain(w.owner)}")
    live = sum(1 for w in loaded if not w.expired(today))
    click.echo(f"{len(loaded)} waivers: {live} live, {len(loaded) - live} expired")


cli.add_command(warm_group)


@cli.command("doctor")
@click.option("--opa-path", metavar="PATH", help="The opa binary to check.")
@click.option("--bundle", type=click.Path(path_type=Path), help="The bundle to check.")
def doctor_command(opa_path: str | None, bundle: Path | None) -> None:
    """Check that opa runs, the bundle loads in it and the config file (and waivers) are valid."""
    from soc2opa.doctor import run_checks

    checks = run_checks(opa_path, bundle, Path.cwd())
    for check in checks:
        click.echo(f"{'ok' if check.ok else 'FAIL':<5} {check.what:<8} {plain(check.detail)}")
    if not all(c.ok for c in checks):
        sys.exit(1)


@cli.command("install-opa")
@click.option(
    "--version", "version", default=PINNED_OPA_VERSION, show_default=True, help="OPA version."
)
def install_opa_command(version: str) -> None:
    """Build opa with `go install` into soc2opa's data folder (soc2opa then finds it there)."""
    path = install_opa(version)
    from soc2opa.doctor import opa_version

    click.echo(f"installed {path} ({opa_version(path) or 'version unknown'})")


@cli.command("build")
@click.option(
    "--check", is_flag=True, help="Fail if rego/, docs/controls.md or the bundle are stale."
)
@click.option(
    "--root", type=click.Path(path_type=Path, file_okay=False), default=".", show_default=True
)
@click.option("--opa-path", metavar="PATH", help="The opa binary to run.")
@click.option(
    "--target",
    type=click.Choice(["opa", "conftest", "spacelift", "tfc", "scalr"]),
    help="Also write the policy for this gate into --output (see docs/integrations/).",
)
@click.option("--output", type=click.Path(path_type=Path), help="Folder for --target.")
@click.option("--tarball", is_flag=True, help="Write --target as one .tar.gz into --output.")
@click.option(
    "--signing-key",
    type=click.Path(path_type=Path),
    help="Sign the OPA bundle with this key (PEM private key, or a file holding an HMAC secret).",
)
@click.option(
    "--mandatory-from",
    type=click.Choice(SEVERITIES),
    default="high",
    show_default=True,
    help="tfc: lowest severity whose policy is mandatory (lower ones are advisory).",
)
def build_command(
    check: bool, root: Path, opa_path: str | None, target: str | None, output: Path | None,
    tarball: bool, signing_key: Path | None, mandatory_from: str,
) -> None:  # fmt: skip
    """Compile controls/*.yaml into rego/ and bundles/soc2opa.tar.gz (from a source checkout)."""
    if signing_key is not None:
        target = target or "opa"
    if (target is None) != (output is None):
        raise UsageError("--target and --output go together")
    output = output.resolve() if output else None
    signing_key = signing_key.resolve() if signing_key else None
    root = root.resolve()
    opa = find_opa(opa_path).resolve()
    if not (root / "controls").is_dir() or not (root / "generator").is_dir():
        raise UsageError(f"{root}: not a soc2opa checkout (needs controls/ and generator/)")
    sys.path.insert(0, str(root))
    try:
        from generator import build
    except ModuleNotFoundError as exc:
        raise UsageError(
            f"soc2opa build needs the authoring extra ({exc.name} is missing): "
            "pip install 'soc2opa[authoring]' (make setup installs it)"
        ) from None

    os.chdir(root)
    result = build(Path("."), opa, check=check)
    for note in [] if check else result.notes:
        click.echo(f"soc2opa: note: stale {note}", err=True)
    if check:
        if result.stale:
            click.echo(
                "stale generated files (run `soc2opa build`): " + ", ".join(result.stale), err=True
            )
            sys.exit(1)
        click.echo(
            f"generated files are current: {result.controls} controls, revision {result.revision}"
        )
    else:
        click.echo(
            f"built {result.controls} controls, revision {result.revision}: "
            "rego/, docs/controls.md, bundles/soc2opa.tar.gz"
        )
    if target and output:
        from generator.targets import Options, build_target

        written = build_target(
            Path("."), opa, target, output, tarball=tarball, signing_key=signing_key,
            options=Options(mandatory_from=mandatory_from),
        )  # fmt: skip
        click.echo(f"wrote the {target} target: {written}")


@cli.command("plans")
@click.option("--all", "everything", is_flag=True, help="Plan every control's examples again.")
@click.option(
    "--check", is_flag=True, help="Re-plan everything; fail if a committed fixture differs."
)
@click.option(
    "--root", type=click.Path(path_type=Path, file_okay=False), default=".", show_default=True
)
def plans_command(everything: bool, check: bool, root: Path) -> None:
    """Plan the controls' HCL examples with real Terraform into tests/plans/ (source checkout)."""
    root = root.resolve()
    if not (root / "controls").is_dir() or not (root / "generator").is_dir():
        raise UsageError(f"{root}: not a soc2opa checkout (needs controls/ and generator/)")
    sys.path.insert(0, str(root))
    from generator.plans import run

    sys.exit(run(root, everything=everything, check=check))


@cli.command("publish")
@click.option("--oci", "reference", required=True, metavar="REGISTRY/REPO:TAG",
              help="Push the bundle here as an OPA OCI artifact.")  # fmt: skip
@click.option(
    "--bundle", type=click.Path(path_type=Path), help="Bundle to push (default: the built-in one)."
)
def publish_command(reference: str, bundle: Path | None) -> None:
    """Push the policy bundle to an OCI registry, where OPA and conftest pull it from."""
    from soc2opa.publish import push_bundle

    digest = push_bundle(bundle or default_bundle(), reference)
    click.echo(f"pushed {bundle or default_bundle()} to {reference} ({digest})")


def _catalog(bundle: Path | None, opa_path: str | None) -> dict[str, Any]:
    engine = LocalEngine(find_opa(opa_path), bundle or default_bundle())
    catalog = engine.query(CATALOG_QUERY)
    if not isinstance(catalog, dict):
        raise EngineError(f"{engine.bundle}: this bundle carries no soc2opa catalog")
    return catalog


def _listed(
    catalog: dict[str, Any], service: str | None, criterion: str | None, framework: str | None
) -> dict[str, Any]:
    out = {}
    wanted = normalize_criterion(criterion) if criterion else None
    for cid, meta in sorted(catalog.items()):
        custom = meta.get("custom", {})
        if service and custom.get("service") != service.lower():
            continue
        if wanted and wanted not in custom.get("criteria", []):
            continue
        if framework and not ids_in(
            framework, tuple(custom.get("criteria", [])), custom.get("crosswalk", {})
        ):
            continue
        out[cid] = meta
    return out


_BUNDLE_OPTION = click.option(
    "--bundle", type=click.Path(path_type=Path), help="Policy bundle (default: the built-in one)."
)
_FORMAT_OPTION = click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
_OPA_OPTION = click.option("--opa-path", metavar="PATH", help="The opa binary to run.")


@cli.group("controls", invoke_without_command=True)
@_BUNDLE_OPTION
@_FORMAT_OPTION
@_OPA_OPTION
@click.pass_context
def controls_group(ctx: click.Context, bundle: Path | None, fmt: str, opa_path: str | None) -> None:
    """What the bundle checks: `controls list` (the default) and `controls show ID`."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(
            controls_list, bundle=bundle, fmt=fmt, opa_path=opa_path,
            service=None, criterion=None, framework=None,
        )  # fmt: skip


@controls_group.command("list")
@_BUNDLE_OPTION
@_FORMAT_OPTION
@_OPA_OPTION
@click.option("--service", metavar="NAME", help="Only this service's controls (s3, rds, ...).")
@click.option("--criterion", metavar="ID", help="Only controls mapped to this SOC 2 criterion.")
@click.option(
    "--framework",
    metavar="NAME",
    help="Only controls mapped to this framework (nist-800-53, iso-27001, hipaa), with its ids.",
)
def controls_list(
    bundle: Path | None, fmt: str, opa_path: str | None, service: str | None,
    criterion: str | None, framework: str | None,
) -> None:  # fmt: skip
    """List controls with severity, criteria (or framework ids) and title."""
    fw = framework_name(framework) if framework else None
    listed = _listed(_catalog(bundle, opa_path), service, criterion, fw)
    if fmt == "json":
        click.echo(json.dumps(listed, indent=2, sort_keys=True))
        return
    for cid, meta in listed.items():
        custom = meta.get("custom", {})
        ids = ids_in(fw or "soc2", tuple(custom.get("criteria", [])), custom.get("crosswalk", {}))
        status = (
            " (runtime evidence)"
            if custom.get("runtime_evidence") and not custom.get("resource_types")
            else ""
        )
        click.echo(
            escape(
                f"{cid:<45} {custom.get('severity', ''):<8} {','.join(ids):<22} "
                f"{plain(meta.get('title', ''))}{status}"
            )
        )
    click.echo(f"{len(listed)} controls")


@controls_group.command("show")
@click.argument("control_id", metavar="ID")
@_BUNDLE_OPTION
@_FORMAT_OPTION
@_OPA_OPTION
def controls_show(control_id: str, bundle: Path | None, fmt: str, opa_path: str | None) -> None:
    """What one control checks, why, its mappings, remediation and reference keys."""
    catalog = _catalog(bundle, opa_path)
    if control_id not in catalog:
        import difflib

        close = difflib.get_close_matches(control_id, list(catalog), n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        raise UsageError(f"controls show: no control {control_id!r} in this bundle{hint}")
    meta = catalog[control_id]
    if fmt == "json":
        click.echo(json.dumps(meta, indent=2, sort_keys=True))
        return
    custom = meta.get("custom", {})
    lines = [
        f"{control_id}: {meta.get('title', '')}",
        f"  service {custom.get('service', '')}, severity {custom.get('severity', '')}, "
        f"scope {custom.get('scope', 'resource')}",
        f"  judges: {', '.join(custom.get('resource_types', [])) or '(nothing in a plan)'}",
        "",
        *textwrap.wrap(meta.get("description", ""), 96, initial_indent="  ",
                       subsequent_indent="  "),
        "",
    ]  # fmt: skip
    for name in FRAMEWORKS:
        ids = ids_in(name, tuple(custom.get("criteria", [])), custom.get("crosswalk", {}))
        if ids:
            lines.append(f"  {FRAMEWORKS[name][1]}: {', '.join(ids)}")
    if custom.get("reference"):
        lines.append(f"  reference rows: {', '.join(custom['reference'])}")
    if custom.get("beyond_reference"):
        lines.append(f"  reference rows: none ({custom['beyond_reference']})")
    if custom.get("runtime_evidence"):
        lines += ["", "  Needs runtime evidence:"]
        lines += textwrap.wrap(custom["runtime_evidence"], 96, initial_indent="    ",
                               subsequent_indent="    ")  # fmt: skip
    remediation = custom.get("remediation", {})
    lines += ["", "  Fix:"]
    lines += textwrap.wrap(remediation.get("text", ""), 96, initial_indent="    ",
                           subsequent_indent="    ")  # fmt: skip
    lines += ["    " + ln for ln in remediation.get("terraform", "").rstrip().splitlines()]
    if custom.get("help_uri"):
        lines += ["", f"  more (examples, the check): {custom['help_uri']}"]
    # A bundle given with --bundle is not ours: every line of it is escaped like plan text.
    click.echo("\n".join(escape(line) for line in lines))


def main() -> None:
    """Entry point: errors, signals and broken output become one line and exit code 2."""
    args = sys.argv[1:] or ["--help"]
    guarded(lambda: cli.main(args=args, prog_name="soc2opa", standalone_mode=False))


if __name__ == "__main__":
    main()
