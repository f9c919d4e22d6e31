"""`soc2opa warm start|status|stop`: the warm opa servers `eval --warm` uses (soc2opa/warm.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from soc2opa import warm
from soc2opa.bundlecache import cached_bundle
from soc2opa.errors import EngineError, UsageError
from soc2opa.output import SECONDS
from soc2opa.tools import default_bundle, find_opa

_ON = {"1", "true", "yes", "on"}
_OFF = {"0", "false", "no", "off"}


def warm_wanted(flag: bool | None) -> bool:
    """Whether `eval` uses a warm server: --warm/--no-warm, else SOC2OPA_WARM, else outside CI.

    CI jobs judge one plan on a machine thrown away after it, where a server left behind only
    costs CPU; everywhere else later runs skip the compile.
    """
    if flag is not None:
        return flag
    setting = os.environ.get("SOC2OPA_WARM", "").strip().lower()
    if setting in _ON:
        return True
    if setting in _OFF:
        return False
    if setting:
        raise UsageError(f"SOC2OPA_WARM must be 1 or 0, not {setting!r}")
    return os.environ.get("CI", "").strip().lower() in {"", *_OFF}


@click.group("warm")
def warm_group() -> None:
    """Warm opa servers kept between runs, for `soc2opa eval --warm`."""


@warm_group.command("start")
@click.option(
    "--bundle", type=click.Path(path_type=Path), help="Policy bundle (default: the built-in one)."
)
@click.option("--opa-path", help="The opa binary (default: $SOC2OPA_OPA, .tools/bin, PATH).")
@click.option("--idle", type=SECONDS, help="Seconds without a plan before it stops (default: 900).")
def warm_start(bundle: Path | None, opa_path: str | None, idle: float | None) -> None:
    """Start the warm server for a bundle now, so the first `eval --warm` needs no compile."""
    path = bundle or default_bundle()
    opa = find_opa(opa_path)
    if cached_bundle(path) is None:
        raise UsageError(f"{path}: only a plain soc2opa bundle can be served warm")
    slot = warm.slot_for(opa, path)
    if slot is None:
        raise EngineError("no private cache folder for a warm server (see docs/performance.md)")
    warm.start(slot, opa, path, idle)
    if not warm.wait_ready(slot):
        raise EngineError(f"the warm opa server for {path} did not start")
    click.echo(f"warm opa server ready for {path} (slot {slot.key})")


@warm_group.command("status")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def warm_status(fmt: str) -> None:
    """List this user's warm servers."""
    servers = warm.running()
    if fmt == "json":
        click.echo(json.dumps(servers, indent=2, sort_keys=True))
        return
    if not servers:
        click.echo("no warm opa server")
    for s in servers:
        idle_for = "never used" if s["idle_for"] is None else f"idle {s['idle_for']:.0f} s"
        click.echo(f"{s['key']}  pid {s['pid']}  {idle_for} of {s['idle']:g} s  {s['bundle']}")


@warm_group.command("stop")
def warm_stop() -> None:
    """Stop every warm server of this user."""
    click.echo(f"stopped {warm.stop_all()} warm opa server(s)")
