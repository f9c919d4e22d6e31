"""A short-lived opa server on a private Unix socket, for judging many plans in one run.

The server compiles the policy once and answers several plans at a time (one request per CPU),
where one `opa eval` of all plans would judge them one after another. It listens on a socket in
a new folder only this user can enter (mode 0700, socket mode 0600), never on a network port,
runs in its own process group and is killed with it when the run ends, fails or is interrupted.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from soc2opa.opaproc import opa_env

REPORT_PATH = "/v1/data/soc2opa/main/report"
MAX_WORKERS = 4
BATCH_HEAP = 768 << 20


class ServerFailed(Exception):
    """The server did not start or did not answer a plan; the caller judges plans one by one."""


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


def workers() -> int:
    """Plans judged at the same time: the CPUs this process may use, at most MAX_WORKERS."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_WORKERS))


class _Server:
    def __init__(self, socket_path: str, deadline: float) -> None:
        self.socket_path = socket_path
        self.deadline = deadline

    def _remaining(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError()
        return left

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        conn = _UnixConnection(self.socket_path, self._remaining())
        try:
            headers = {"Content-Type": "application/json"} if body is not None else {}
            conn.request(method, path, body=body, headers=headers)
            answer = conn.getresponse()
            return answer.status, answer.read()
        finally:
            conn.close()

    def report(self, plan: bytes) -> Any:
        status, body = self.request("POST", REPORT_PATH, b'{"input":' + plan + b"}")
        if status != 200:
            raise ServerFailed(f"answered {status}")
        try:
            doc = json.loads(body)
        except (ValueError, RecursionError):
            raise ServerFailed("answered something not JSON") from None
        if not isinstance(doc, dict):
            raise ServerFailed("answered something that is not a result")
        return doc.get("result")


def _wait_ready(proc: subprocess.Popen[bytes], server: _Server) -> None:
    while True:
        if proc.poll() is not None:
            raise ServerFailed(f"opa exited ({proc.returncode}) before it served")
        with contextlib.suppress(OSError, http.client.HTTPException):
            if server.request("GET", "/health")[0] == 200:
                return
        time.sleep(0.01)


@contextmanager
def opa_server(
    opa: Path, sources: list[str], timeout: float, env: dict[str, str] | None = None
) -> Iterator[_Server]:
    """Run `opa run --server` over sources (opa's load arguments) until the block ends."""
    deadline = time.monotonic() + timeout
    folder = tempfile.mkdtemp(prefix="soc2opa-")
    path = os.path.join(folder, "opa.sock")
    args = [
        *("run", "--server", "--skip-version-check", "--log-level", "error"),
        *("--addr", f"unix://{path}", "--unix-socket-perm", "600", "--shutdown-grace-period", "0"),
        *sources,
    ]
    try:
        proc = subprocess.Popen(
            [str(opa), *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            env=env,
        )
    except OSError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise ServerFailed(str(exc.strerror)) from None
    try:
        server = _Server(path, deadline)
        _wait_ready(proc, server)
        yield server
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        shutil.rmtree(folder, ignore_errors=True)


def reports(opa: Path, sources: list[str], plans: list[bytes], timeout: float) -> list[Any]:
    """The raw report of each plan, in order, from one server answering several at a time."""
    at_once = min(workers(), len(plans))
    # Sized for the largest plans judged at once, over a server that holds the policy of every
    # plan's types and the garbage of many requests (256 MiB made it collect about as often as
    # Go's default); the server ends with the run.
    env = opa_env(max((len(p) for p in plans), default=0), concurrency=at_once, base=BATCH_HEAP)
    with opa_server(opa, sources, timeout, env) as server:
        pool = ThreadPoolExecutor(at_once, thread_name_prefix="soc2opa-batch")
        try:
            return list(pool.map(server.report, plans))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
