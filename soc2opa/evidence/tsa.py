"""RFC 3161 timestamps on checkpoints: ask a Time-Stamp Authority, check what it answered.

The message stamped is the checkpoint's whole signed note; the store keeps the TSA's DER
TimeStampResponse (base64) exactly as the TSA sent it. rfc3161-client builds the request and
parses and verifies the response; a response whose certificate set is not in DER order (a TSA
sending its whole chain, the way OpenSSL writes it) is put in DER order first (der.py), which
leaves the signature and what it covers untouched.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

from soc2opa.errors import UsageError
from soc2opa.evidence.der import sort_certificates
from soc2opa.evidence.store import display

_MAX_RESPONSE = 1 << 20


class TimestampError(ValueError):
    """A timestamp that is missing, malformed or not over the checkpoint."""


def _client() -> Any:
    try:
        import rfc3161_client
    except ImportError:
        raise UsageError("--tsa-url needs rfc3161-client (pip install 'soc2opa[tsa]')") from None
    return rfc3161_client


def request_timestamp(url: str, message: bytes, timeout: float = 30) -> str:
    """Ask the TSA at url to stamp SHA-256(message); the checked response, base64 DER."""
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"--tsa-url: {display(url)} is not an http(s) URL")
    rfc = _client()
    request = (
        rfc.TimestampRequestBuilder()
        .data(message)
        .hash_algorithm(rfc.HashAlgorithm.SHA256)
        .nonce(nonce=True)
        .cert_request(cert_request=True)
        .build()
    )
    post = urllib.request.Request(
        url, data=request.as_bytes(), method="POST",
        headers={"Content-Type": "application/timestamp-query"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(post, timeout=timeout) as answer:
            body = answer.read(_MAX_RESPONSE + 1)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise UsageError(f"--tsa-url {display(url)}: no timestamp ({exc})") from None
    if len(body) > _MAX_RESPONSE:
        raise UsageError(f"--tsa-url {display(url)}: the answer is over 1 MiB")
    try:
        response = rfc.decode_timestamp_response(sort_certificates(body))
    except ValueError:
        raise UsageError(f"--tsa-url {display(url)}: the answer is not a timestamp") from None
    if response.status != rfc.PKIStatus.GRANTED:
        raise UsageError(f"--tsa-url {display(url)}: the TSA refused (status {response.status})")
    info = response.tst_info
    if info.message_imprint.message != hashlib.sha256(message).digest():
        raise UsageError(f"--tsa-url {display(url)}: the timestamp is over another message")
    if info.nonce != request.nonce:
        raise UsageError(f"--tsa-url {display(url)}: the timestamp's nonce is not ours")
    return base64.b64encode(body).decode()


def load_roots(path: Path) -> list[Any]:
    """Trusted TSA root certificates from a PEM file."""
    from cryptography import x509

    try:
        return list(x509.load_pem_x509_certificates(path.read_bytes()))
    except (OSError, ValueError) as exc:
        raise UsageError(f"--tsa-ca {path}: no PEM certificates ({exc})") from None


def check_timestamp(token: str, message: bytes, roots: list[Any] | None) -> datetime:
    """The trusted time of a stored timestamp over message; TimestampError if it is not one.

    Without roots only the message imprint is checked; with them, the TSA's signature and
    certificate chain (rfc3161-client's verifier) too. Intermediate certificates the response
    carries are used to build the chain to a root, never trusted on their own.
    """
    rfc = _client()
    try:
        raw = base64.b64decode(token, validate=True)
        response = rfc.decode_timestamp_response(sort_certificates(raw))
    except (ValueError, binascii.Error):
        raise TimestampError("the timestamp is not a DER TimeStampResponse") from None
    if response.tst_info.message_imprint.message != hashlib.sha256(message).digest():
        raise TimestampError("the timestamp is over another note")
    if roots:
        builder = rfc.VerifierBuilder()
        for root in roots:
            builder = builder.add_root_certificate(root)
        try:
            builder.build().verify_message(response, message)
        except rfc.VerificationError as exc:
            raise TimestampError(f"the TSA's signature does not verify ({exc})") from None
    gen_time: datetime = response.tst_info.gen_time
    return gen_time
