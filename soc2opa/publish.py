"""Pushing a bundle to an OCI registry as an OPA bundle artifact (registry HTTP API v2)."""

from __future__ import annotations

import hashlib
import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

from soc2opa.errors import EngineError, UsageError

CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
_REF = re.compile(
    r"^(?P<host>[A-Za-z0-9.-]+(?::\d+)?)/(?P<repo>[a-z0-9._/-]+):(?P<tag>[\w][\w.-]{0,127})$"
)


@dataclass(frozen=True)
class Reference:
    """REGISTRY/REPOSITORY:TAG, and whether to speak plain HTTP to the registry."""

    host: str
    repo: str
    tag: str

    @property
    def base(self) -> str:
        """The registry's base URL: plain HTTP only for a registry on this machine."""
        name = self.host.rsplit(":", 1)[0]
        scheme = "http" if name in ("127.0.0.1", "localhost", "::1") else "https"
        return f"{scheme}://{self.host}"


def parse_reference(text: str) -> Reference:
    """Parse REGISTRY/REPO:TAG (an oci:// prefix is accepted)."""
    match = _REF.match(text.removeprefix("oci://"))
    if not match:
        raise UsageError(f"--oci: {text!r} is not REGISTRY/REPOSITORY:TAG")
    return Reference(match["host"], match["repo"], match["tag"])


def _request(
    method: str, url: str, data: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str]]:
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, dict(resp.headers)
    except urllib.error.HTTPError as exc:
        if method == "HEAD" and exc.code == 404:
            return 404, {}
        where = url.split("/v2/")
        raise EngineError(
            f"registry {where[0]} answered {exc.code} to {method} {where[-1][:80]}"
        ) from None
    except OSError as exc:
        raise EngineError(
            f"cannot reach registry {url.split('/v2/')[0]}: {type(exc).__name__}"
        ) from None


def _push_blob(ref: Reference, blob: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    api = f"{ref.base}/v2/{ref.repo}/blobs/"
    status, _ = _request("HEAD", api + digest)
    if status == 200:
        return digest
    _, headers = _request("POST", api + "uploads/", b"", {"Content-Length": "0"})
    location = headers.get("Location") or headers.get("location")
    if not location:
        raise EngineError(f"registry {ref.host} gave no upload location")
    upload = urljoin(f"{ref.base}/", location)
    upload += ("&" if "?" in upload else "?") + f"digest={digest}"
    _request(
        "PUT",
        upload,
        blob,
        {"Content-Type": "application/octet-stream", "Content-Length": str(len(blob))},
    )
    return digest


def push_bundle(bundle: Path, reference: str) -> str:
    """Push bundle as an OPA OCI artifact to reference; return the manifest digest."""
    ref = parse_reference(reference)
    if not bundle.is_file():
        raise UsageError(f"--bundle: {bundle} not found")
    layer = bundle.read_bytes()
    config = b"{}"
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "config": {
            "mediaType": CONFIG_TYPE,
            "digest": _push_blob(ref, config),
            "size": len(config),
        },
        "layers": [
            {
                "mediaType": LAYER_TYPE,
                "digest": _push_blob(ref, layer),
                "size": len(layer),
                "annotations": {"org.opencontainers.image.title": bundle.name},
            }
        ],
    }
    body = json.dumps(manifest, separators=(",", ":")).encode()
    _request(
        "PUT",
        f"{ref.base}/v2/{ref.repo}/manifests/{ref.tag}",
        body,
        {"Content-Type": MANIFEST_TYPE},
    )
    return "sha256:" + hashlib.sha256(body).hexdigest()
