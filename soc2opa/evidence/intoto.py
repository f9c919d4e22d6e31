"""A window of evidence as DSSE-signed in-toto Statements (v1), one JSON line per record.

For an evaluation the subject is the judged plan or state (its name and SHA-256) and the
predicate (urn:soc2opa:evaluation:v1) is the stored record with its place in the chain (seq,
prev_hash, record_hash). For a waiver's create, renew or revoke record the subject is the record
itself (`soc2opa-evidence/waiver/ID/SEQ`, digest = its record_hash, the SHA-256 of its RFC 8785
form with seq and prev_hash) and the predicate is urn:soc2opa:waiver:v1, the same fields plus
the action and the waiver's id. The envelope is signed with
Ed25519 over DSSE's pre-authentication encoding (PAE), written here with `cryptography`:
PAE = "DSSEv1" SP len(type) SP type SP len(body) SP body. The key is a PEM (PKCS#8) Ed25519
private key, or the signed-note key that `soc2opa evidence keygen` writes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from soc2opa.errors import UsageError
from soc2opa.evidence.store import Stored
from soc2opa.evidence.views import EVALUATION_KINDS
from soc2opa.evidence.waiver_history import WAIVER_KIND

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "urn:soc2opa:evaluation:v1"
WAIVER_PREDICATE_TYPE = "urn:soc2opa:waiver:v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
_NOTE_ED25519 = 0x01


def pae(payload_type: str, body: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding of a payload."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(body), body)


def key_id(public: Ed25519PublicKey) -> str:
    """The SHA-256 (hex) of the raw public key: the envelope's keyid."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def parse_private_key(text: str) -> Ed25519PrivateKey:
    """An Ed25519 private key from PEM (PKCS#8) or a signed-note key line."""
    text = text.strip()
    if text.startswith("PRIVATE+KEY+"):
        try:
            # PRIVATE+KEY+name+id+key: the name has no "+", the base64 key may.
            raw = base64.b64decode(text.split("+", 4)[4], validate=True)
        except (binascii.Error, ValueError, IndexError):
            raise ValueError("the signed-note key is not base64") from None
        if len(raw) != 33 or raw[0] != _NOTE_ED25519:
            raise ValueError("the signed-note key is not an Ed25519 key")
        return Ed25519PrivateKey.from_private_bytes(raw[1:])
    try:
        key = serialization.load_pem_private_key(text.encode(), password=None)
    except (ValueError, TypeError):
        raise ValueError("not a PEM private key or a signed-note key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("the PEM key is not an Ed25519 key")
    return key


def load_key(path: Path | None, env: str | None) -> Ed25519PrivateKey:
    """The signing key from a file or an environment variable (exactly one of them)."""
    if (path is None) == (env is None):
        raise UsageError("--format intoto signs: give the key with --key FILE or --key-env VAR")
    where = f"--key {path}" if path is not None else f"--key-env {env}"
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"{where}: cannot read the key ({exc.__class__.__name__})") from None
    else:
        text = os.environ.get(str(env), "")
        if not text.strip():
            raise UsageError(f"{where}: the variable is not set")
    try:
        return parse_private_key(text)
    except ValueError as exc:
        raise UsageError(f"{where}: {exc}") from None


def statement(row: Stored) -> dict[str, Any]:
    """The in-toto Statement of one evaluation or waiver lifecycle record."""
    if row.kind == WAIVER_KIND:
        wid = str(row.record.get("waiver", {}).get("id", ""))
        return {
            "_type": STATEMENT_TYPE,
            "subject": [{"name": f"soc2opa-evidence/waiver/{wid}/{row.seq}",
                         "digest": {"sha256": row.record_hash}}],
            "predicateType": WAIVER_PREDICATE_TYPE,
            "predicate": {
                "seq": row.seq, "prev_hash": row.prev_hash, "record_hash": row.record_hash,
                "action": row.record.get("action"), "waiver_id": wid, "record": row.record,
            },
        }  # fmt: skip
    plan = row.record["plan"]
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": plan["name"], "digest": {"sha256": plan["sha256"]}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "seq": row.seq,
            "prev_hash": row.prev_hash,
            "record_hash": row.record_hash,
            "record": row.record,
        },
    }


def envelope(row: Stored, key: Ed25519PrivateKey) -> dict[str, Any]:
    """The DSSE envelope of one evaluation's Statement, signed with key."""
    body = json.dumps(statement(row), sort_keys=True, separators=(",", ":")).encode()
    signature = key.sign(pae(PAYLOAD_TYPE, body))
    return {
        "payloadType": PAYLOAD_TYPE,
        "payload": base64.b64encode(body).decode(),
        "signatures": [
            {"keyid": key_id(key.public_key()), "sig": base64.b64encode(signature).decode()}
        ],
    }


def verify_envelope(env: dict[str, Any], public: Ed25519PublicKey) -> dict[str, Any]:
    """The Statement of an envelope whose signature by public holds; ValueError otherwise."""
    try:
        body = base64.b64decode(env["payload"], validate=True)
        sigs = [base64.b64decode(s["sig"], validate=True) for s in env["signatures"]]
    except (KeyError, TypeError, binascii.Error) as exc:
        raise ValueError(f"not a DSSE envelope ({exc.__class__.__name__})") from None
    message = pae(str(env.get("payloadType")), body)
    for sig in sigs:
        try:
            public.verify(sig, message)
        except InvalidSignature:
            continue
        result: dict[str, Any] = json.loads(body)
        return result
    raise ValueError("no signature by this key holds")


def intoto_lines(rows: Sequence[Stored], key: Ed25519PrivateKey) -> str:
    """One signed envelope per evaluation and per waiver lifecycle record, as JSON lines in seq
    order."""
    chosen = sorted((r for r in rows if r.kind in (*EVALUATION_KINDS, WAIVER_KIND)),
                    key=lambda r: r.seq)  # fmt: skip
    return "".join(json.dumps(envelope(row, key), sort_keys=True) + "\n" for row in chosen)
