"""`soc2opa evidence`: the commands of the evidence store, imported only when they are used."""

from __future__ import annotations

from pathlib import Path

import click

from soc2opa.evidence.commands import COMMANDS as EVIDENCE_COMMANDS
from soc2opa.evidence.formats import EXPORT_FORMATS, export_window
from soc2opa.evidence.html_proofs import html_context
from soc2opa.evidence.intoto import load_key
from soc2opa.evidence.store import read, store_target
from soc2opa.evidence.waiver_commands import waiver_group


@click.group("evidence")
def evidence_group() -> None:
    """The audit evidence store that `soc2opa eval --evidence STORE` appends to."""


for _command in (*EVIDENCE_COMMANDS, waiver_group):
    evidence_group.add_command(_command)


@evidence_group.command("export")
@click.argument("store", metavar="STORE")
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS), default="jsonl")
@click.option("--from", "since", metavar="DATE", help="First UTC day (YYYY-MM-DD) to include.")
@click.option("--to", "until", metavar="DATE", help="Last UTC day (YYYY-MM-DD) to include.")
@click.option(
    "--key",
    type=click.Path(path_type=Path, dir_okay=False),
    help="intoto: the Ed25519 signing key (PEM, or a signed-note key).",
)
@click.option("--key-env", metavar="VAR", help="intoto: the environment variable holding the key.")
@click.option(
    "--sample",
    "sample_size",
    type=click.IntRange(min=1),
    help="html: how many records to sample (default 25).",
)
@click.option(
    "--seed",
    metavar="TEXT",
    help="html: the sample's seed (default: the newest record_hash); the same seed and window "
    "draw the same records.",
)
def evidence_export(
    store: str, fmt: str, since: str | None, until: str | None, key: Path | None,
    key_env: str | None, sample_size: int | None, seed: str | None,
) -> None:  # fmt: skip
    """Write the records of a window: JSON lines, CSV, OSCAL Assessment Results, HDF,
    DSSE-signed in-toto statements or an HTML report; see docs/evidence.md."""
    signer = load_key(key, key_env) if fmt == "intoto" else None
    target = store_target(store)
    rows = list(read(target))
    chain, prove = html_context(target, rows) if fmt == "html" else ("", None)
    click.echo(
        export_window(rows, fmt, since, until, key=signer, chain=chain, prove=prove,
                      sample_size=sample_size, seed=seed),
        nl=False,
    )  # fmt: skip
