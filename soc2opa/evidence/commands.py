"""The `soc2opa evidence` commands for keys, checkpoints, proofs and verification."""

from __future__ import annotations

import json
import os
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

import click

from soc2opa.errors import UsageError
from soc2opa.evidence.audit import audit
from soc2opa.evidence.checkpoint import (
    check_proof,
    load_signer,
    load_verifier,
    prove_consistency,
    prove_inclusion,
    write_checkpoint,
)
from soc2opa.evidence.export import window
from soc2opa.evidence.merkle import ProofError
from soc2opa.evidence.note import NoteError, generate
from soc2opa.evidence.store import open_store, store_target

STORE = click.argument("store", metavar="STORE")
KEY = click.option(
    "--key",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The signing key file (from `soc2opa evidence keygen`, or an Ed25519 PEM key).",
)
KEY_ENV = click.option(
    "--key-env", metavar="VARIABLE", help="Read the signing key from this environment variable."
)


@click.command("keygen")
@click.option("--name", default="soc2opa-evidence", show_default=True, help="The key's name.")
@click.option(
    "--out",
    "-o",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the private (signing) key here, readable by you only; never overwritten.",
)
def keygen(name: str, out: Path) -> None:
    """Make an Ed25519 signing key for checkpoints; print its public key for auditors."""
    try:
        signer = generate(name)
    except NoteError as exc:
        raise UsageError(f"--name: {exc}") from None
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise UsageError(f"--out: {out} exists; it is never overwritten") from None
    except OSError as exc:
        raise UsageError(f"--out: {out}: {exc.strerror}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(signer.text() + "\n")
    click.echo(signer.verifier.text())


@click.command("public-key")
@KEY
@KEY_ENV
def public_key(key: Path | None, key_env: str | None) -> None:
    """Print the public (verifier) key of a signing key: hand it to the auditor."""
    click.echo(load_signer(key, key_env).verifier.text())


@click.command("checkpoint")
@STORE
@KEY
@KEY_ENV
@click.option(
    "--origin",
    metavar="NAME",
    help="The log's name in the checkpoint (default: the previous checkpoint's, or the key's).",
)
@click.option(
    "--tsa-url",
    envvar="SOC2OPA_TSA_URL",
    metavar="URL",
    help="Also get an RFC 3161 timestamp on the checkpoint from this Time-Stamp Authority "
    "(or $SOC2OPA_TSA_URL).",
)
@click.option("--tsa-timeout", type=float, default=30, show_default=True, help="Seconds.")
def checkpoint(
    store: str, key: Path | None, key_env: str | None, origin: str | None,
    tsa_url: str | None, tsa_timeout: float,
) -> None:  # fmt: skip
    """Sign a checkpoint (Merkle tree head) over every record so far and store it."""
    signer = load_signer(key, key_env)
    stamper = None
    if tsa_url:
        from soc2opa.evidence.tsa import request_timestamp

        url = tsa_url

        def stamper(note: bytes) -> tuple[str, str]:
            return request_timestamp(url, note, tsa_timeout), url

    with closing(open_store(store_target(store), must_exist=True)) as opened:
        cp = write_checkpoint(opened, signer, origin=origin, timestamper=stamper)
    stamped = " (RFC 3161 timestamp stored)" if cp.timestamp else ""
    click.echo(
        f"{opened.name}: checkpoint {cp.id} signed: records 1..{cp.tree_size}, "
        f"root {cp.root_hash}{stamped}",
        err=True,
    )
    click.echo(cp.note, nl=False)


def _dump(doc: dict[str, Any]) -> None:
    click.echo(json.dumps(doc, indent=2, sort_keys=True))


@click.command("prove")
@STORE
@click.option("--seq", type=int, help="Prove that this record is in a signed checkpoint.")
@click.option("--checkpoint", "chosen", type=int, help="The checkpoint to prove against (by id).")
@click.option(
    "--old", type=int, help="Prove that checkpoint OLD is a prefix of --checkpoint (or the last)."
)
def prove(store: str, seq: int | None, chosen: int | None, old: int | None) -> None:
    """Print an inclusion proof (--seq) or a consistency proof (--old) as JSON."""
    if (seq is None) == (old is None):
        raise UsageError("prove: give --seq N (inclusion) or --old ID (consistency)")
    with closing(open_store(store_target(store), must_exist=True)) as opened:
        rows, checkpoints = opened.rows(), opened.checkpoints()
    if seq is not None:
        _dump(prove_inclusion(rows, checkpoints, seq, chosen))
    elif old is not None:
        _dump(prove_consistency(rows, checkpoints, old, chosen))


@click.command("verify-proof")
@click.argument("proof", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--public-key",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The auditor's copy of the store's public key.",
)
def verify_proof(proof: Path, public_key: Path) -> None:
    """Check a proof from `soc2opa evidence prove` offline (exit 1 if it does not hold)."""
    verifier = load_verifier(public_key)
    try:
        doc = json.loads(proof.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UsageError(f"{proof}: not a readable JSON proof ({exc.__class__.__name__})") from None
    if not isinstance(doc, dict):
        raise UsageError(f"{proof}: not a JSON proof object")
    try:
        what = check_proof(doc, verifier)
    except (ProofError, ValueError) as exc:
        click.echo(f"{proof}: the proof does not hold: {exc}", err=True)
        sys.exit(1)
    click.echo(f"{proof}: proof holds: {what}")


def _notes(files: tuple[Path, ...]) -> list[str]:
    out = []
    for f in files:
        try:
            out.append(f.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            why = exc.__class__.__name__
            raise UsageError(f"--checkpoint-note {f}: cannot read ({why})") from None
    return out


@click.command("verify")
@STORE
@click.option("--from", "since", metavar="DATE", help="First UTC day (YYYY-MM-DD) of the window.")
@click.option("--to", "until", metavar="DATE", help="Last UTC day (YYYY-MM-DD) of the window.")
@click.option(
    "--public-key",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Check checkpoint signatures with this copy of the public key (an auditor's).",
)
@click.option(
    "--checkpoint-note",
    "notes",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="A checkpoint note kept outside the store; it must match the records (repeatable).",
)
@click.option(
    "--tsa-ca",
    type=click.Path(path_type=Path, dir_okay=False),
    help="PEM root certificates of the TSA: check timestamps' signatures, not only their hash.",
)
def verify(
    store: str, since: str | None, until: str | None, public_key: Path | None,
    notes: tuple[Path, ...], tsa_ca: Path | None,
) -> None:  # fmt: skip
    """Check every record and checkpoint; exit 1 naming the first bad one and why.

    No record may be missing, changed, reordered or backdated; every checkpoint's signature must
    hold, its root must match the records it covers, and it must be consistent with the one
    before.
    """
    verifier = load_verifier(public_key) if public_key else None
    roots = None
    if tsa_ca is not None:
        from soc2opa.evidence.tsa import load_roots

        roots = load_roots(tsa_ca)
    with closing(open_store(store_target(store), must_exist=True)) as opened:
        rows, checkpoints = opened.rows(), opened.checkpoints()
        name = opened.name
    chosen = window(rows, since, until)
    verdict = audit(rows, checkpoints, verifier=verifier, external=_notes(notes), tsa_roots=roots)
    if verdict.problem:
        click.echo(f"{name}: {verdict.records} records hold; {verdict.problem}", err=True)
        sys.exit(1)
    lines = [f"{name}: {verdict.records} records, chain intact"]
    if since or until:
        span = f"records {chosen[0].seq}..{chosen[-1].seq}" if chosen else "no records"
        lines.append(f"window {since or '…'} to {until or '…'}: {span}")
        if chosen and chosen[-1].seq > verdict.covered:
            lines.append(f"the window ends after the last checkpoint (record {verdict.covered})")
    if checkpoints:
        pinned = "the given public key" if verifier else "the key stored with them"
        lines.append(
            f"{verdict.checkpoints} checkpoints verified with {pinned} ({verdict.key}); "
            f"they cover records 1..{verdict.covered} and are consistent"
        )
    else:
        lines.append("no signed checkpoints: write one with `soc2opa evidence checkpoint`")
    if verdict.timestamps:
        how = "signature and hash" if roots else "hash only: give --tsa-ca to check the TSA"
        lines.append(
            f"{verdict.timestamps} RFC 3161 timestamps hold ({how}); "
            f"the latest is {verdict.last_trusted_time}"
        )
    lines += verdict.notes
    click.echo("\n".join(lines))


COMMANDS = (keygen, public_key, checkpoint, prove, verify_proof, verify)
