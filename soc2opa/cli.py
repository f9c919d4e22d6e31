"""The soc2opa command line: eval, build, controls."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from soc2opa import __version__
from soc2opa.engine import CATALOG_QUERY, Engine, LocalEngine, RemoteEngine
from soc2opa.errors import EngineError, InputError, Soc2OpaError, UsageError
from soc2opa.formats import FORMATS
from soc2opa.planfile import open_plan
from soc2opa.report import SEVERITIES, build_report
from soc2opa.tools import default_bundle, find_opa


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="soc2opa")
def cli() -> None:
    """SOC 2 checks for Terraform plans on AWS, evaluated by Open Policy Agent."""


@cli.command("eval")
@click.argument("plan", type=click.Path(path_type=Path))
@click.option(
    "--bundle", type=click.Path(path_type=Path), help="Policy bundle (default: the built-in one)."
)
@click.option(
    "--format", "fmt", type=click.Choice(sorted(FORMATS)), default="text", show_default=True
)
@click.option(
    "--fail-on",
    type=click.Choice(SEVERITIES),
    default="low",
    show_default=True,
    help="Lowest severity of a failing result that makes the exit code 1.",
)
@click.option("--strict", is_flag=True, help="Results unknown until apply also fail the run.")
@click.option(
    "--control", "controls", multiple=True, metavar="ID", help="Only this control (repeatable)."
)
@click.option(
    "--criterion",
    "criteria",
    multiple=True,
    metavar="ID",
    help="Only controls mapped to this SOC 2 criterion, e.g. CC6.1 (repeatable).",
)
@click.option(
    "--opa-url",
    metavar="URL",
    help="Query this OPA server (which serves the soc2opa bundle) instead of a local opa.",
)
@click.option(
    "--opa-path",
    metavar="PATH",
    help="The opa binary to run (default: $SOC2OPA_OPA, .tools/bin, PATH).",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path),
    help="Write the report here instead of stdout.",
)
@click.option(
    "--timeout", type=float, default=600.0, show_default=True, help="Seconds OPA may take."
)
def eval_command(
    plan: Path, bundle: Path | None, fmt: str, fail_on: str, strict: bool,
    controls: tuple[str, ...], criteria: tuple[str, ...], opa_url: str | None,
    opa_path: str | None, output: Path | None, timeout: float,
) -> None:  # fmt: skip
    """Judge a `terraform show -json` plan against the SOC 2 controls."""
    engine: Engine
    if opa_url:
        if bundle:
            raise UsageError(
                "--bundle and --opa-url exclude each other (the server has its bundle)"
            )
        engine = RemoteEngine(opa_url, timeout=timeout, token=os.environ.get("SOC2OPA_OPA_TOKEN"))
        source = opa_url
    else:
        bundle_path = bundle or default_bundle()
        engine = LocalEngine(find_opa(opa_path), bundle_path, timeout=timeout)
        source = str(bundle_path)
    with open_plan(plan) as plan_file:
        raw = engine.evaluate(plan_file)
    if raw["problems"]:
        raise InputError(f"{plan}: {sorted(raw['problems'])[0]}")
    report = build_report(
        raw, plan_name=str(plan), bundle_source=source, engine=engine.name,
        fail_on=fail_on, strict=strict, controls=controls, criteria=criteria,
    )  # fmt: skip
    text = FORMATS[fmt]().render(report)
    if output:
        try:
            output.write_text(click.unstyle(text))
        except OSError as exc:
            raise UsageError(f"--output: cannot write {output}: {exc.strerror}") from None
    else:
        click.echo(text, nl=False)
    sys.exit(report.exit_code)


@cli.command("build")
@click.option(
    "--check", is_flag=True, help="Fail if rego/, docs/controls.md or the bundle are stale."
)
@click.option(
    "--root", type=click.Path(path_type=Path, file_okay=False), default=".", show_default=True
)
@click.option("--opa-path", metavar="PATH", help="The opa binary to run.")
def build_command(check: bool, root: Path, opa_path: str | None) -> None:
    """Compile controls/*.yaml into rego/ and bundles/soc2opa.tar.gz (from a source checkout)."""
    root = root.resolve()
    opa = find_opa(opa_path).resolve()
    if not (root / "controls").is_dir() or not (root / "generator").is_dir():
        raise UsageError(f"{root}: not a soc2opa checkout (needs controls/ and generator/)")
    sys.path.insert(0, str(root))
    from generator import build

    os.chdir(root)
    result = build(Path("."), opa, check=check)
    if check:
        if result.stale:
            click.echo(
                "stale generated files (run `soc2opa build`): " + ", ".join(result.stale), err=True
            )
            sys.exit(1)
        click.echo(
            f"generated files are current: {result.controls} controls, revision {result.revision}"
        )
        return
    click.echo(
        f"built {result.controls} controls, revision {result.revision}: "
        "rego/, docs/controls.md, bundles/soc2opa.tar.gz"
    )


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


@cli.command("controls")
@click.option(
    "--bundle", type=click.Path(path_type=Path), help="Policy bundle (default: the built-in one)."
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option("--opa-path", metavar="PATH", help="The opa binary to run.")
def controls_command(bundle: Path | None, fmt: str, opa_path: str | None) -> None:
    """List the controls the bundle carries."""
    engine = LocalEngine(find_opa(opa_path), bundle or default_bundle())
    catalog = engine.query(CATALOG_QUERY)
    if not isinstance(catalog, dict):
        raise EngineError(f"{engine.bundle}: this bundle carries no soc2opa catalog")
    if fmt == "json":
        click.echo(json.dumps(catalog, indent=2, sort_keys=True))
        return
    for cid, meta in sorted(catalog.items()):
        custom = meta.get("custom", {})
        criteria = ",".join(custom.get("criteria", []))
        severity = custom.get("severity", "")
        click.echo(f"{cid:<45} {severity:<8} {criteria:<22} {meta.get('title', '')}")


def main() -> None:
    """Entry point: the one place errors become exit codes (0, 1 findings, 2 errors)."""
    args = sys.argv[1:] or ["--help"]
    try:
        cli.main(args=args, prog_name="soc2opa", standalone_mode=False)
    except Soc2OpaError as exc:
        click.echo(f"soc2opa: error: {exc.message}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("soc2opa: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        click.echo(f"soc2opa: error: {exc.format_message()}", err=True)
        sys.exit(2)
    except Exception as exc:
        if os.environ.get("SOC2OPA_DEBUG"):
            raise
        click.echo(
            f"soc2opa: internal error: {type(exc).__name__} (set SOC2OPA_DEBUG=1 for details)",
            err=True,
        )
        sys.exit(2)
    sys.exit(0)


if __name__ == "__main__":
    main()
