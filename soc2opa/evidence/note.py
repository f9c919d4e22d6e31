"""Signed notes (C2SP signed-note) with Ed25519, and checkpoints (C2SP tlog-checkpoint).

A note is UTF-8 text ending in a newline, a blank line, then one line per signature:
"— <key name> <base64(key id || signature)>". The key id is the first four bytes of
SHA-256(key name || "\\n" || 0x01 || public key); the signature is Ed25519 over the text.
A verifier key is written "<name>+<key id hex>+<base64(0x01 || public key)>", and a signer key
(as Go's golang.org/x/mod/sumdb/note writes it) "PRIVATE+KEY+<name>+<key id hex>+<base64(0x01 ||
seed)>". A checkpoint's text is the origin, the tree size in decimal and the base64 root hash,
one a line.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ED25519 = b"\x01"
DASH = "\u2014"


class NoteError(ValueError):
    """A key or note that is malformed, or a signature that does not verify."""


def _key_id(name: str, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + ED25519 + public).digest()[:4]


def _check_name(name: str) -> str:
    if not name or any(c.isspace() or c == "+" for c in name) or not name.isprintable():
        raise NoteError(f"key name {name!r}: it must be non-empty, without spaces or '+'")
    return name


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@dataclass(frozen=True)
class Verifier:
    """A named Ed25519 public key that checks note signatures."""

    name: str
    public: bytes

    @property
    def key_id(self) -> bytes:
        """The four bytes a signature line starts with."""
        return _key_id(self.name, self.public)

    def text(self) -> str:
        """The verifier key as one line, for auditors."""
        encoded = base64.b64encode(ED25519 + self.public).decode()
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    def check(self, message: bytes, signature: bytes) -> bool:
        """Whether the signature is this key's over the message."""
        try:
            Ed25519PublicKey.from_public_bytes(self.public).verify(signature, message)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class Signer:
    """A named Ed25519 private key that signs notes."""

    name: str
    key: Ed25519PrivateKey

    @property
    def verifier(self) -> Verifier:
        """Its public half."""
        return Verifier(self.name, _raw_public(self.key.public_key()))

    def text(self) -> str:
        """The signer key as one line (keep it secret)."""
        seed = self.key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )  # fmt: skip
        encoded = base64.b64encode(ED25519 + seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.verifier.key_id.hex()}+{encoded}"

    def sign(self, text: str) -> str:
        """The signed note: the text, a blank line and this key's signature line."""
        if not text.endswith("\n"):
            raise NoteError("a note's text ends with a newline")
        signature = self.key.sign(text.encode())
        encoded = base64.b64encode(self.verifier.key_id + signature).decode()
        return f"{text}\n{DASH} {self.name} {encoded}\n"


def generate(name: str) -> Signer:
    """A new signer key with this name."""
    return Signer(_check_name(name), Ed25519PrivateKey.generate())


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise NoteError(f"{what}: not base64") from None


def parse_signer(text: str, default_name: str = "soc2opa-evidence") -> Signer:
    """A signer key from its one-line form, or an Ed25519 private key in PEM (PKCS#8)."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_private_key(text.encode(), password=None)
        except (ValueError, TypeError):
            raise NoteError("the key is not a readable unencrypted PEM private key") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise NoteError("the PEM key is not an Ed25519 key")
        return Signer(_check_name(default_name), key)
    parts = text.split("+", 4)
    if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
        raise NoteError("the key is neither PRIVATE+KEY+<name>+<id>+<key> nor PEM")
    raw = _b64(parts[4], "the signer key")
    if len(raw) != 33 or raw[:1] != ED25519:
        raise NoteError("the signer key is not an Ed25519 key")
    signer = Signer(_check_name(parts[2]), Ed25519PrivateKey.from_private_bytes(raw[1:]))
    if signer.verifier.key_id.hex() != parts[3].lower():
        raise NoteError("the signer key's id does not match its key")
    return signer


def parse_verifier(text: str) -> Verifier:
    """A verifier key from its one-line form <name>+<id>+<base64 key>."""
    parts = text.strip().split("+", 2)
    if len(parts) != 3:
        raise NoteError("a verifier key is <name>+<key id>+<base64 key>")
    raw = _b64(parts[2], "the verifier key")
    if len(raw) != 33 or raw[:1] != ED25519:
        raise NoteError("the verifier key is not an Ed25519 key")
    verifier = Verifier(_check_name(parts[0]), raw[1:])
    if verifier.key_id.hex() != parts[1].lower():
        raise NoteError("the verifier key's id does not match its key")
    return verifier


def open_note(note: str, verifier: Verifier) -> str:
    """The text of a signed note once a signature by this verifier is found valid."""
    text, sep, signatures = note.partition("\n\n")
    if not sep or not signatures.endswith("\n"):
        raise NoteError("not a signed note (text, blank line, signature lines)")
    text += "\n"
    for line in signatures[:-1].split("\n"):
        dash, _, rest = line.partition(" ")
        name, _, encoded = rest.partition(" ")
        if dash != DASH or not name or not encoded:
            raise NoteError(f"malformed signature line {line[:60]!r}")
        if name != verifier.name:
            continue
        raw = _b64(encoded, "a signature")
        if len(raw) == 68 and raw[:4] == verifier.key_id and verifier.check(text.encode(), raw[4:]):
            return text
        raise NoteError(f"the signature by {name} does not verify")
    raise NoteError(f"no signature by {verifier.name}")


@dataclass(frozen=True)
class TreeHead:
    """A checkpoint's body: which log, how many leaves, and their tree hash."""

    origin: str
    size: int
    root: bytes

    def text(self) -> str:
        """The checkpoint text a note signs."""
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"


def parse_checkpoint(text: str) -> TreeHead:
    """The tree head a checkpoint text states."""
    lines = text.split("\n")
    if len(lines) < 4 or not lines[0] or not lines[1].isdigit():
        raise NoteError("a checkpoint is an origin, a tree size and a root hash, a line each")
    if lines[1] != str(int(lines[1])):
        raise NoteError("a checkpoint's tree size has leading zeros")
    root = _b64(lines[2], "the checkpoint's root hash")
    if len(root) != 32:
        raise NoteError("the checkpoint's root hash is not 32 bytes")
    return TreeHead(lines[0], int(lines[1]), root)
