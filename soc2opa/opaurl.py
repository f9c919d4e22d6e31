"""The --opa-url value: checked strictly, credentials kept out of every message and report."""

from __future__ import annotations

import base64
import unicodedata
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from soc2opa.errors import UsageError
from soc2opa.untrusted import excerpt


@dataclass(frozen=True)
class OpaUrl:
    """An OPA server root: scheme, host and port, with optional user:password for basic auth."""

    scheme: str
    host: str
    port: int
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)

    @property
    def ssl(self) -> bool:
        """Whether to speak HTTPS."""
        return self.scheme == "https"

    @property
    def client_host(self) -> str:
        """The host as a URL needs it (IPv6 addresses in brackets)."""
        return f"[{self.host}]" if ":" in self.host else self.host

    @property
    def display(self) -> str:
        """The URL without credentials: the only form ever printed or stored."""
        return f"{self.scheme}://{self.client_host}:{self.port}"

    def auth_headers(self) -> dict[str, str]:
        """A basic Authorization header when the URL carries user:password, else nothing."""
        if self.username is None:
            return {}
        pair = f"{self.username}:{self.password or ''}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}

    @classmethod
    def parse(cls, url: str) -> OpaUrl:
        """Parse a server root such as http://127.0.0.1:8181; refuse anything else in one line."""
        shown = _redacted(url)
        if any(ch.isspace() or unicodedata.category(ch)[0] == "C" for ch in url):
            raise UsageError(f"--opa-url: '{shown}' contains spaces or control characters")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise UsageError(
                f"--opa-url: '{shown}' has an invalid host or port (ports are 1 to 65535)"
            ) from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(f"--opa-url: '{shown}' is not an http(s) URL")
        if port == 0:
            raise UsageError(f"--opa-url: '{shown}' has port 0; ports are 1 to 65535")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise UsageError(
                f"--opa-url: '{shown}' has a path; give the server root, e.g. http://127.0.0.1:8181"
            )
        return cls(
            scheme=parts.scheme,
            host=parts.hostname,
            port=port or (443 if parts.scheme == "https" else 80),
            username=unquote(parts.username) if parts.username is not None else None,
            password=unquote(parts.password) if parts.password is not None else None,
        )


def _redacted(url: str) -> str:
    """The URL with any user:password@ part replaced, shortened for a message."""
    scheme, sep, rest = url.partition("://")
    if sep:
        authority, slash, tail = rest.partition("/")
        if "@" in authority:
            authority = "***@" + authority.rpartition("@")[2]
        url = f"{scheme}://{authority}{slash}{tail}"
    elif "@" in url:
        url = "***@" + url.rpartition("@")[2]
    return excerpt(url, 80)
