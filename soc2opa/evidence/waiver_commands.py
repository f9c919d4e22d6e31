"""`soc2opa evidence waiver create|renew|revoke|list`: waivers as chained evidence records."""

from __future__ import annotations

from contextlib import closing
from typing import Any

import click

from soc2opa.evidence.store import open_store, store_target
from soc2opa.evidence.waiver_records import (
    create_record,
    fold,
    renew_record,
    revoke_record,
)
from soc2opa.waivers import today_utc

STORE = click.argument("store", metavar="STORE")
APPROVER = click.option("--approver", required=True, help="Who approved (not the owner).")
REASON = click.option("--reason", required=True, help="Why the finding is accepted.")
TICKET = click.option("--ticket", help="The ticket or change record.")
EXPIRES = click.option("--expires", required=True, metavar="DATE", help="Last UTC day it applies.")


def _append(store: str, make: Any) -> None:
    with closing(open_store(store_target(store))) as opened:
        record = make(fold(opened.rows()))
        stored = opened.append(record)
    w = record["waiver"]
    done = {"create": "created", "renew": "renewed", "revoke": "revoked"}[record["action"]]
    click.echo(f"{opened.name}: record {stored.seq}: waiver {w['id']} {done}")


@click.group("waiver")
def waiver_group() -> None:
    """Waivers recorded in the evidence store; `eval --evidence STORE` applies the live ones."""


@waiver_group.command("create")
@STORE
@click.option("--id", "waiver_id", help="The waiver's id (default: a new W-xxxxxxxx).")
@click.option("--control", required=True, help="Control id or glob (* and ?).")
@click.option("--resource", default="*", show_default=True, help="Address glob (* and ?).")
@click.option("--owner", required=True, help="Who owns the accepted risk.")
@APPROVER
@REASON
@TICKET
@EXPIRES
def create(
    store: str, waiver_id: str | None, control: str, resource: str, owner: str, approver: str,
    reason: str, ticket: str | None, expires: str,
) -> None:  # fmt: skip
    """Record a new waiver."""
    _append(store, lambda existing: create_record(
        existing, waiver_id=waiver_id, control=control, resource=resource, owner=owner,
        approver=approver, reason=reason, ticket=ticket, expires=expires, today=today_utc(),
    ))  # fmt: skip


@waiver_group.command("renew")
@STORE
@click.argument("waiver_id", metavar="ID")
@APPROVER
@REASON
@TICKET
@EXPIRES
def renew(
    store: str, waiver_id: str, approver: str, reason: str, ticket: str | None, expires: str
) -> None:
    """Record a new expiry date for a waiver."""
    _append(store, lambda existing: renew_record(
        existing, waiver_id, approver=approver, reason=reason, ticket=ticket, expires=expires,
        today=today_utc(),
    ))  # fmt: skip


@waiver_group.command("revoke")
@STORE
@click.argument("waiver_id", metavar="ID")
@APPROVER
@REASON
def revoke(store: str, waiver_id: str, approver: str, reason: str) -> None:
    """Record that a waiver ends now."""
    _append(store, lambda existing: revoke_record(
        existing, waiver_id, approver=approver, reason=reason,
    ))  # fmt: skip


@waiver_group.command("list")
@STORE
def list_waivers(store: str) -> None:
    """Every waiver in the store: live, expired or revoked, with the records it rests on."""
    with closing(open_store(store_target(store), must_exist=True)) as opened:
        found = fold(opened.rows())
    today = today_utc()
    for w in found.values():
        records = (
            f"records {w.created_seq}..{w.last_seq}"
            if w.last_seq != w.created_seq
            else (f"record {w.created_seq}")
        )
        click.echo(
            f"{w.id}  {w.status(today):8} {w.control} on {w.resource}  until {w.expires}  "
            f"owner {w.owner}, approved by {w.approver}  ({records})"
        )
    if not found:
        click.echo("no waivers in the store")
