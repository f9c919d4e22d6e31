"""Evaluating a plan with OPA: a local opa process, or a remote OPA server."""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from soc2opa.bundlecache import cached_bundle
from soc2opa.errors import EngineError, InputError
from soc2opa.opaproc import OpaTimeout, memory_cap, opa_env, run_opa, run_opa_many
from soc2opa.planfile import PlanFile
from soc2opa.plantrim import PolicyReads
from soc2opa.report_shape import check_report
from soc2opa.selection import selective_args, sharded_args
from soc2opa.shards import jobs_for_memory, join_reports
from soc2opa.untrusted import excerpt

QUERY = "data.soc2opa.main.report"
CATALOG_QUERY = "data.soc2opa.main.catalog"
_VERSION = re.compile(r"^Version:\s*v?(\S+)", re.MULTILINE)


class Engine(Protocol):
    """Something that turns a plan into the raw report of data.soc2opa.main.report."""

    name: str
    timeout: float

    def evaluate(self, plan: PlanFile) -> dict[str, Any]:
        """Evaluate the bundle's report for the plan."""
        ...

    def identity(self, raw: dict[str, Any]) -> dict[str, str | None]:
        """Which OPA ran: its version, and the binary path or the server URL."""
        ...


def version_tuple(version: str) -> tuple[int, ...]:
    """1.22.2 -> (1, 22, 2); a pre-release or build suffix is ignored."""
    core = re.match(r"^v?(\d+(?:\.\d+)*)", version.strip())
    return tuple(int(p) for p in core.group(1).split(".")) if core else ()


def check_opa_version(raw: dict[str, Any], who: str) -> None:
    """Refuse an OPA older than the bundle's min_opa_version (both come from the report)."""
    have, need = raw.get("opa_version"), raw.get("min_opa_version")
    known = isinstance(have, str) and isinstance(need, str) and have and need
    if known and version_tuple(str(have)) < version_tuple(str(need)):
        raise EngineError(
            f"{who} is OPA {excerpt(have, 20)}, older than the {excerpt(need, 20)} "
            "this bundle requires"
        )


def _opa_errors(stdout: bytes) -> list[dict[str, Any]]:
    try:
        doc = json.loads(stdout)
    except (ValueError, RecursionError):
        return []
    errors = doc.get("errors") if isinstance(doc, dict) else None
    if not isinstance(errors, list):
        return []
    return [e for e in errors if isinstance(e, dict)]


def explain_opa_error(message: str, code: str, *, bundle: str, plan: str) -> Exception:
    """Blame what OPA's error is about: the bundle (load, parse, compile) or the plan (eval)."""
    short = excerpt(message, 160)
    if code.startswith("eval_"):
        return InputError(f"{plan}: OPA could not evaluate this plan: {short}")
    if "input" in code:
        return InputError(f"{plan}: OPA could not read this plan: {short}")
    return EngineError(f"{bundle}: OPA cannot use this bundle: {short}")


@dataclass
class LocalEngine:
    """Runs `opa eval` once per plan; the validated plan goes to opa on its standard input."""

    opa: Path
    bundle: Path
    timeout: float = 600.0
    name: str = "opa-local"
    # Compile only the controls the plan's resource types reach (docs/performance.md).
    select: bool = True
    # Ask a warm opa server kept between runs, and start one when none answers (soc2opa/warm.py).
    warm: bool = False
    # How many opa processes may share out one plan's controls (soc2opa/shards.py).
    jobs: int = 1

    def evaluate(self, plan: PlanFile) -> dict[str, Any]:
        """Run opa eval over the bundle with the plan as input (or ask the warm server)."""
        slot, reads = self._warm_slot()
        limit = WARM_MAX_BYTES if self.jobs == 1 else WARM_MAX_BYTES_SHARED
        warm = self._warm([plan], slot, reads) if _warm_sized([plan], limit) else None
        if warm is not None:
            raw = warm[0]
        else:
            raw = self._judge(plan)
            self._start_warm(slot)
        if raw is None:
            raise EngineError(
                f"{self.bundle}: the bundle has no data.soc2opa.main.report; "
                "is it a soc2opa bundle?"
            )
        report = check_report(raw, f"opa eval of {self.bundle}")
        check_opa_version(report, f"{self.opa}")
        return report

    def identity(self, raw: dict[str, Any]) -> dict[str, str | None]:
        """The opa binary that ran and its version."""
        version = raw.get("opa_version")
        return {"version": version if isinstance(version, str) else None, "path": str(self.opa)}

    def query(
        self, query: str, plan: PlanFile | None = None, types: Iterable[str] | None = None
    ) -> Any:
        """The value of one Rego query over the bundle (None when undefined).

        With the plan's resource types, only the controls they reach are compiled when the
        bundle carries a selection index; the others answer with their recorded stubs.
        """
        self._check_bundle()
        with self._sources(types) as (sources, reads):
            return self._run(query, plan, sources, reads)

    def _check_bundle(self) -> None:
        try:
            is_file = self.bundle.is_file()
        except OSError as exc:
            reason = os.strerror(exc.errno).lower() if exc.errno else "cannot read it"
            raise EngineError(f"{self.bundle}: cannot use the bundle: {reason}") from None
        if not is_file:
            raise EngineError(f"{self.bundle}: bundle not found")

    def _judge(self, plan: PlanFile) -> Any:
        """The plan's report from one opa eval, or from several sharing out its controls."""
        if not self.select:
            return self.query(QUERY, plan, None)
        jobs = jobs_for_memory(self.jobs, len(plan.data), memory_cap())
        if jobs > 1:
            self._check_bundle()
            cached = cached_bundle(self.bundle)
            if cached is not None:
                with sharded_args(cached, plan.types, plan.type_counts, jobs) as groups:
                    if len(groups) > 1:
                        return self._run_shards(plan, groups, cached.reads)
                    return self._run(QUERY, plan, groups[0], cached.reads)
        return self.query(QUERY, plan, plan.types)

    def _run_shards(
        self, plan: PlanFile, groups: list[list[str]], reads: PolicyReads | None
    ) -> Any:
        env = opa_env(len(plan.data), processes=len(groups))
        runs: list[tuple[list[str], dict[str, str] | None]] = [
            (["eval", "--format", "json", *g, "--stdin-input", QUERY], env) for g in groups
        ]

        def answer(proc: subprocess.CompletedProcess[bytes]) -> Any:
            if proc.returncode != 0:
                raise self._failure(proc.returncode, proc.stdout, proc.stderr, plan.name)
            return self._value(proc.stdout, plan.name)

        try:
            values = run_opa_many(
                self.opa, runs, stdin=plan.for_policy(reads), timeout=self.timeout, then=answer
            )
        except OpaTimeout:
            raise EngineError(
                f"opa eval timed out after {self.timeout:g}s on {plan.name}"
            ) from None
        except OSError as exc:
            raise EngineError(f"cannot run {self.opa}: {exc.strerror}") from None
        if all(v is None for v in values):
            return None
        return join_reports(values, plan.name)

    @contextmanager
    def _sources(
        self, types: Iterable[str] | None
    ) -> Iterator[tuple[list[str], PolicyReads | None]]:
        """opa's load arguments (the selected modules and stubs, or the whole bundle), and
        what of a plan those modules read (None: all of it)."""
        cached = cached_bundle(self.bundle) if types is not None else None
        if cached is None:
            yield ["--bundle", str(self.bundle)], None
        else:
            with selective_args(cached, types or ()) as args:
                yield args, cached.reads

    def evaluate_many(self, plans: list[PlanFile]) -> list[Any] | None:
        """Each plan's raw report from one short-lived opa server; None if it could not serve.

        The server compiles once and judges several plans at a time (soc2opa/opaserver.py).
        """
        # Imported here: a single plan never needs the HTTP client or threads.
        import http.client

        from soc2opa.opaserver import ServerFailed, reports

        slot, reads = self._warm_slot()
        warm = self._warm(plans, slot, reads) if _warm_sized(plans) else None
        if warm is not None:
            return warm
        types = frozenset().union(*(p.types for p in plans)) if self.select else None
        try:
            with self._sources(types) as (sources, reads):
                # opa run takes the files to load as arguments, without eval's --data.
                args = [a for a in sources if a != "--data"]
                inputs = [p.for_policy(reads) for p in plans]
                return reports(self.opa, args, inputs, self.timeout)
        except TimeoutError:
            raise EngineError(
                f"opa timed out after {self.timeout:g}s on {len(plans)} plans"
            ) from None
        except (ServerFailed, OSError, http.client.HTTPException):
            return None
        finally:
            self._start_warm(slot)

    def _warm_slot(self) -> tuple[Any, PolicyReads | None]:
        """The warm server's slot for this bundle and opa, when --warm is on and it may serve,
        and what the bundle reads of a plan."""
        cached = cached_bundle(self.bundle) if self.warm else None
        if cached is None:
            # A signed or unusual bundle is loaded with its own checks, never by a warm server.
            return None, None
        from soc2opa.warm import slot_for

        return slot_for(self.opa, self.bundle), cached.reads

    def _warm(
        self, plans: list[PlanFile], slot: Any, reads: PolicyReads | None
    ) -> list[Any] | None:
        if slot is None:
            return None
        from soc2opa.warm import reports as warm_reports

        try:
            return warm_reports(slot, [p.for_policy(reads) for p in plans], self.timeout)
        except TimeoutError:
            raise EngineError(f"the warm opa server timed out after {self.timeout:g}s") from None

    def _start_warm(self, slot: Any) -> None:
        if slot is not None:
            from soc2opa.warm import start

            start(slot, self.opa, self.bundle)

    def _run(
        self,
        query: str,
        plan: PlanFile | None,
        sources: list[str],
        reads: PolicyReads | None = None,
    ) -> Any:
        args = ["eval", "--format", "json", *sources]
        if plan is not None:
            args.append("--stdin-input")
        what = plan.name if plan else str(self.bundle)
        try:
            proc = run_opa(
                self.opa,
                [*args, query],
                stdin=plan.for_policy(reads) if plan else None,
                timeout=self.timeout,
                env=opa_env(len(plan.data) if plan else 0),
            )
        except OpaTimeout:
            raise EngineError(f"opa eval timed out after {self.timeout:g}s on {what}") from None
        except OSError as exc:
            raise EngineError(f"cannot run {self.opa}: {exc.strerror}") from None
        if proc.returncode != 0:
            raise self._failure(proc.returncode, proc.stdout, proc.stderr, what)
        return self._value(proc.stdout, what)

    def _value(self, stdout: bytes, what: str) -> Any:
        """The query's value from opa eval's JSON output (None when undefined)."""
        try:
            doc = json.loads(stdout)
        except (ValueError, RecursionError):
            raise EngineError(f"opa eval returned output soc2opa cannot read for {what}") from None
        if not isinstance(doc, dict):
            raise EngineError(f"opa eval returned output soc2opa cannot read for {what}")
        if "result" not in doc:
            return None
        try:
            return doc["result"][0]["expressions"][0]["value"]
        except (KeyError, IndexError, TypeError):
            raise EngineError(f"opa eval returned output soc2opa cannot read for {what}") from None

    def _failure(self, code: int, stdout: bytes, stderr: bytes, what: str) -> Exception:
        older = self._too_old()
        if older:
            return EngineError(older)
        errors = _opa_errors(stdout)
        if errors:
            first = errors[0]
            return explain_opa_error(
                str(first.get("message", "")),
                str(first.get("code", "")),
                bundle=str(self.bundle),
                plan=what,
            )
        text = stderr.decode("utf-8", errors="replace")
        line = next((ln for ln in text.splitlines() if ln.strip()), "no message")
        return EngineError(f"opa eval failed (exit {code}): {excerpt(line, 200)}")

    def _too_old(self) -> str | None:
        """Why opa failed, when it is older than the bundle needs (asked only after a failure)."""
        need = bundle_min_opa_version(self.bundle)
        if not need:
            return None
        try:
            proc = run_opa(self.opa, ["version"], timeout=min(self.timeout, 30.0))
        except (OpaTimeout, OSError):
            return None
        found = _VERSION.search(proc.stdout.decode("utf-8", errors="replace"))
        if found and version_tuple(found.group(1)) < version_tuple(need):
            return (
                f"{self.opa} is OPA {excerpt(found.group(1), 20)}, older than the "
                f"{excerpt(need, 20)} this bundle requires"
            )
        return None


# Past this size a plan goes to a one-shot opa eval even when a warm server runs: compiling is
# a small part of judging it, the server's collector (GOMEMLIMIT=1GiB) makes it slower than
# eval's GOGC=off, and a server that has held a large plan keeps that memory until it idles out.
WARM_MAX_BYTES = 8 * 1024 * 1024
# With several CPUs a one-shot eval shares the plan's controls out between opa processes
# (soc2opa/shards.py) and is as fast as the single-threaded warm server from about 1,000
# resources (1.7 MB) on two cores; past this size it is the faster.
WARM_MAX_BYTES_SHARED = 2 * 1024 * 1024


def _warm_sized(plans: list[PlanFile], limit: int = WARM_MAX_BYTES) -> bool:
    return all(len(p.data) <= limit for p in plans)


def bundle_min_opa_version(bundle: Path) -> str | None:
    """metadata.min_opa_version from the bundle's .manifest, if it has one."""
    import tarfile  # only after a failure

    try:
        with tarfile.open(bundle, mode="r:gz") as tar:
            for member in tar:
                if member.name.lstrip("/").removeprefix("./") == ".manifest" and member.isfile():
                    handle = tar.extractfile(member)
                    if handle is None or member.size > 1 << 20:
                        return None
                    manifest = json.loads(handle.read())
                    need = manifest.get("metadata", {}).get("min_opa_version")
                    return need if isinstance(need, str) else None
    except (OSError, tarfile.TarError, ValueError, AttributeError, EOFError):
        return None
    return None


class RemoteEngine:
    """Queries an OPA server that already serves the soc2opa bundle (its REST data API)."""

    name = "opa-remote"

    def __init__(self, url: str, timeout: float = 120.0, token: str | None = None) -> None:
        from soc2opa.opaurl import OpaUrl

        self.server = OpaUrl.parse(url)
        if token and self.server.username is not None:
            raise EngineError(
                "--opa-url: give credentials in the URL or in $SOC2OPA_OPA_TOKEN, not both"
            )
        self.url = self.server.display
        self.timeout = timeout
        self.token = token

    def _why_no_report(self, remaining: float) -> str:
        """Explain a missing report: an unactivated bundle (e.g. a refused signature) or none.

        The health question runs within what is left of the --timeout deadline (at most 10 s).
        """
        base = f"OPA server {self.url} has no data.soc2opa.main.report"
        answer: dict[str, int] = {}
        wait = max(min(remaining, 10.0), 0.0)
        worker = threading.Thread(target=self._health, args=(wait, answer), daemon=True)
        worker.start()
        worker.join(wait)
        status = answer.get("status")
        if status is not None and status != 200:
            return (
                f"{base}: its bundles are not activated (GET /health?bundles answered "
                f"{status}); OPA refuses a bundle that fails signature verification "
                "or cannot be downloaded, and its log says which"
            )
        return f"{base}; load the soc2opa bundle"

    def _health(self, timeout: float, answer: dict[str, int]) -> None:
        import requests

        if timeout <= 0.05:
            return
        try:
            answer["status"] = requests.get(
                f"{self.url}/health?bundles",
                timeout=timeout,
                headers=self.server.auth_headers() or None,
            ).status_code
        except requests.RequestException:
            return

    def identity(self, raw: dict[str, Any]) -> dict[str, str | None]:
        """The server's OPA version and its URL (without credentials)."""
        version = raw.get("opa_version")
        return {"version": version if isinstance(version, str) else None, "url": self.url}

    def evaluate(self, plan: PlanFile) -> dict[str, Any]:
        """POST the plan as input to /v1/data/soc2opa/main/report, within one total deadline."""
        outcome: dict[str, Any] = {}
        started = time.monotonic()
        worker = threading.Thread(
            target=self._query, args=(plan, outcome), daemon=True, name="soc2opa-remote"
        )
        worker.start()
        worker.join(self.timeout)
        if worker.is_alive():
            # The daemon thread dies with the process; its socket closes then.
            raise EngineError(f"OPA server {self.url} did not answer within {self.timeout:g}s")
        if "error" in outcome:
            raise outcome["error"]
        answer = outcome.get("answer")
        if not isinstance(answer, dict):
            raise EngineError(f"OPA server {self.url} answered something that is not a result")
        if "result" not in answer:
            raise EngineError(self._why_no_report(self.timeout - (time.monotonic() - started)))
        report = check_report(answer["result"], f"OPA server {self.url}")
        check_opa_version(report, f"OPA server {self.url}")
        return report

    def _query(self, plan: PlanFile, outcome: dict[str, Any]) -> None:
        try:
            outcome["answer"] = self._post(plan)
        except BaseException as exc:
            outcome["error"] = (
                exc
                if isinstance(exc, EngineError | InputError)
                else EngineError(f"OPA server {self.url}: unusable answer ({type(exc).__name__})")
            )

    def _post(self, plan: PlanFile) -> Any:
        # Imported here so the default local engine does not pay for the HTTP stack at start-up.
        import requests

        headers = {"Content-Type": "application/json", **self.server.auth_headers()}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        # The validated bytes as they are: a large plan is not parsed and encoded again.
        body = b'{"input":' + plan.data + b"}"
        limit = answer_limit(len(plan.data))
        try:
            with requests.post(
                f"{self.url}/v1/data/soc2opa/main/report",
                data=body, headers=headers, timeout=self.timeout, stream=True,
            ) as response:  # fmt: skip
                if response.status_code >= 400:
                    detail = _bounded(response, ERROR_ANSWER_BYTES)
                    raise self._http_error(response.status_code, detail, plan.name)
                text = _bounded(response, limit)
                if text is None:
                    raise EngineError(
                        f"OPA server {self.url} answered more than {limit >> 20} MiB "
                        f"for {plan.name}"
                    )
        except requests.RequestException as exc:
            raise EngineError(f"cannot reach OPA server {self.url}: {type(exc).__name__}") from None
        try:
            return json.loads(text)
        except (ValueError, RecursionError):
            raise EngineError(f"OPA server {self.url} answered something not JSON") from None

    def _http_error(self, status: int, body: bytes | None, plan: str) -> Exception:
        detail: Any = None
        try:
            detail = json.loads(body) if body is not None else None
        except (ValueError, RecursionError):
            detail = None
        if isinstance(detail, dict) and isinstance(detail.get("message"), str):
            code = str(detail.get("code", ""))
            if code.startswith("eval_"):
                return InputError(
                    f"{plan}: OPA server {self.url} could not evaluate this plan: "
                    f"{excerpt(detail['message'], 160)}"
                )
            return EngineError(
                f"OPA server {self.url} answered {status}: {excerpt(detail['message'], 160)}"
            )
        return EngineError(f"OPA server {self.url} answered {status}")


# An OPA server's answer is untrusted: read at most this much (a report for a plan is about the
# plan's size; these leave room many times over).
ANSWER_BASE_BYTES = 64 << 20
ANSWER_PER_PLAN_BYTE = 8
ERROR_ANSWER_BYTES = 1 << 20


def answer_limit(plan_bytes: int) -> int:
    """The most soc2opa reads of a server's answer for a plan of this many bytes."""
    return ANSWER_BASE_BYTES + ANSWER_PER_PLAN_BYTE * plan_bytes


def _bounded(response: Any, limit: int) -> bytes | None:
    """The response body, or None when it is longer than limit bytes (the rest is not read)."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(1 << 20):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
