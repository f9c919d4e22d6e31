"""Put a TimeStampResp's certificate set in DER order, so that a strict DER parser reads it.

RFC 5652 makes SignedData.certificates a SET OF, which DER sorts by the elements' encodings
(X.690 11.6). TSAs built on OpenSSL (`openssl ts -reply` with `-chain` or `certs`) write the
signer's certificate first and then the chain in file order: valid BER, not DER.
rfc3161-client parses with rust-asn1, which enforces DER and refuses such an answer
("InvalidSetOrdering" at SignedData::certificates) as soon as it carries two certificates in the
wrong order. The set is outside what the TSA signs (the signature covers the signed attributes,
which hold the digest of the TSTInfo), so sorting it changes neither the signature nor what it
proves; the lengths stay the same, so only the set's content bytes move.
"""

from __future__ import annotations

# Tags on the path TimeStampResp -> timeStampToken (ContentInfo) -> [0] content -> SignedData.
_SEQUENCE, _CONTEXT_0 = 0x30, 0xA0


def _header(data: bytes, at: int, end: int) -> tuple[int, int, int]:
    """(tag, start of content, end of content) of the DER element at `at`; ValueError if bad."""
    if at + 2 > end:
        raise ValueError("truncated")
    tag, first = data[at], data[at + 1]
    if tag & 0x1F == 0x1F:
        raise ValueError("high tag numbers are not used here")
    if first < 0x80:
        start, length = at + 2, first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or at + 2 + count > end:
            raise ValueError("bad length")
        start, length = at + 2 + count, int.from_bytes(data[at + 2 : at + 2 + count], "big")
    if start + length > end:
        raise ValueError("truncated")
    return tag, start, start + length


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """(tag, element start, content start, element end) of each element in [start, end)."""
    out, at = [], start
    while at < end:
        tag, content, stop = _header(data, at, end)
        out.append((tag, at, content, stop))
        at = stop
    return out


def _signed_data(data: bytes) -> tuple[int, int]:
    tag, start, end = _header(data, 0, len(data))
    parts = _children(data, start, end)
    if tag != _SEQUENCE or len(parts) < 2 or parts[1][0] != _SEQUENCE:
        raise ValueError("not a TimeStampResp with a token")
    token = _children(data, parts[1][2], parts[1][3])  # contentType, [0] content
    if len(token) != 2 or token[1][0] != _CONTEXT_0:
        raise ValueError("not a ContentInfo")
    (inner,) = _children(data, token[1][2], token[1][3])
    if inner[0] != _SEQUENCE:
        raise ValueError("not a SignedData")
    return inner[2], inner[3]


def sort_certificates(response: bytes) -> bytes:
    """The TimeStampResp with its token's certificate set in DER order (the same bytes when it
    already is, has no such set, or is not a TimeStampResp at all: the parser then says why)."""
    try:
        start, end = _signed_data(response)
        fields = _children(response, start, end)
    except ValueError:
        return response
    # version, digestAlgorithms, encapContentInfo, then [0] IMPLICIT certificates if present.
    certs = next((f for f in fields[3:4] if f[0] == _CONTEXT_0), None)
    if certs is None:
        return response
    _, _, content, stop = certs
    try:
        elements = [response[a:b] for _, a, _, b in _children(response, content, stop)]
    except ValueError:
        return response
    width = max((len(e) for e in elements), default=0)
    ordered = sorted(elements, key=lambda e: e.ljust(width, b"\x00"))
    return response[:content] + b"".join(ordered) + response[stop:]
