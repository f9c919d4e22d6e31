"""Evaluating a plan with OPA: a local opa process, or a remote OPA server."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

from soc2opa.errors import EngineError, InputError
from soc2opa.planfile import PlanFile, explain_parse_failure, plan_is_json

QUERY = "data.soc2opa.main.report"
CATALOG_QUERY = "data.soc2opa.main.catalog"


class Engine(Protocol):
    """Something that turns a plan into the raw report of data.soc2opa.main.report."""

    name: str

    def evaluate(self, plan: PlanFile) -> dict[str, Any]:
        """Evaluate the bundle's report for the plan."""
        ...


def _check_report(value: Any, origin: str) -> dict[str, Any]:
    if not isinstance(value, dict) or not {"controls", "problems", "plan"} <= value.keys():
        raise EngineError(
            f"{origin} returned no soc2opa report; is the soc2opa bundle loaded (root soc2opa)?"
        )
    return value


class LocalEngine:
    """Runs `opa eval` once per plan; OPA reads the plan file itself."""

    name = "opa-local"

    def __init__(self, opa: Path, bundle: Path, timeout: float = 600.0) -> None:
        self.opa = opa
        self.bundle = bundle
        self.timeout = timeout

    def evaluate(self, plan: PlanFile) -> dict[str, Any]:
        """Run opa eval over the bundle with the plan as input."""
        return _check_report(self.query(QUERY, plan), "opa eval")

    def query(self, query: str, plan: PlanFile | None = None) -> Any:
        """The value of one Rego query over the bundle, optionally with a plan as input."""
        if not self.bundle.exists():
            raise EngineError(f"{self.bundle}: bundle not found")
        cmd = [str(self.opa), "eval", "--format", "json", "--bundle", str(self.bundle)]
        if plan is not None:
            cmd += ["--input", str(plan.path)]
        try:
            proc = subprocess.run([*cmd, query], capture_output=True, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            what = plan.name if plan else self.bundle
            raise EngineError(f"opa eval timed out after {self.timeout:g}s on {what}") from None
        except OSError as exc:
            raise EngineError(f"cannot run {self.opa}: {exc.strerror}") from None
        if proc.returncode != 0:
            if plan is not None and not plan_is_json(plan):
                raise explain_parse_failure(plan)
            stderr = proc.stderr.decode("utf-8", errors="replace")
            first = next((ln for ln in stderr.splitlines() if ln.strip()), "no message")
            raise EngineError(f"opa eval failed (exit {proc.returncode}): {first[:300]}")
        try:
            return json.loads(proc.stdout)["result"][0]["expressions"][0]["value"]
        except (ValueError, KeyError, IndexError, TypeError):
            what = plan.name if plan else self.bundle
            raise EngineError(f"opa eval returned output soc2opa cannot read for {what}") from None


class RemoteEngine:
    """Queries an OPA server that already serves the soc2opa bundle, with opa-python-client."""

    name = "opa-remote"

    def __init__(self, url: str, timeout: float = 120.0, token: str | None = None) -> None:
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise EngineError(f"--opa-url: {url!r} is not an http(s) URL")
        if parsed.path not in ("", "/") or parsed.query:
            raise EngineError(
                f"--opa-url: {url!r} has a path; give the server root, e.g. http://127.0.0.1:8181"
            )
        self.url = url
        self.host = parsed.hostname
        self.port = parsed.port or (443 if parsed.scheme == "https" else 80)
        self.ssl = parsed.scheme == "https"
        self.timeout = timeout
        self.token = token

    def _why_no_report(self) -> str:
        """Explain a missing report: an unactivated bundle (e.g. a refused signature) or none."""
        import requests

        base = f"OPA server {self.url} has no data.soc2opa.main.report"
        try:
            health = requests.get(f"{self.url.rstrip('/')}/health?bundles", timeout=10)
        except requests.RequestException:
            return f"{base}; load the soc2opa bundle"
        if health.status_code != 200:
            return (
                f"{base}: its bundles are not activated (GET /health?bundles answered "
                f"{health.status_code}); OPA refuses a bundle that fails signature verification "
                "or cannot be downloaded, and its log says which"
            )
        return f"{base}; load the soc2opa bundle"

    def evaluate(self, plan: PlanFile) -> dict[str, Any]:
        """POST the plan as input to /v1/data/soc2opa/main/report."""
        # Imported here so the default local engine does not pay for the HTTP stack at start-up.
        import requests
        from opa_client import create_opa_client

        try:
            document = json.loads(plan.path.read_bytes().decode("utf-8-sig"))
        except (ValueError, UnicodeDecodeError):
            raise explain_parse_failure(plan) from None
        if not isinstance(document, dict):
            raise InputError(f"{plan.name}: not a plan: expected a JSON object")
        client = create_opa_client(
            host=self.host, port=self.port, ssl=self.ssl, timeout=self.timeout,
            token=self.token, retries=0,
        )  # fmt: skip
        try:
            answer = client.query_rule(
                input_data=document, package_path="soc2opa/main", rule_name="report"
            )
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else "an error"
            raise EngineError(f"OPA server {self.url} answered {status}") from None
        except requests.RequestException as exc:
            raise EngineError(f"cannot reach OPA server {self.url}: {type(exc).__name__}") from None
        finally:
            client.close_connection()
        if "result" not in answer:
            raise EngineError(self._why_no_report())
        return _check_report(answer["result"], f"OPA server {self.url}")
