"""A throwaway PostgreSQL 15 server for tests: initdb in a temporary folder, 127.0.0.1 on a
random port, stopped and removed afterwards. PostgreSQL refuses to run as root, so as root the
server runs as the unprivileged `postgres` user (made by Debian's package) or `nobody`."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

PG_BIN = Path(os.environ.get("SOC2OPA_PG_BIN", "/usr/lib/postgresql/15/bin"))
SUPERUSER = "soc2opa_admin"


@dataclass(frozen=True)
class Server:
    """A running server: its port, and URLs for the superuser and for a database owner."""

    port: int

    def url(self, user: str = SUPERUSER, db: str = "postgres") -> str:
        """A connection URL on 127.0.0.1 (trust authentication: no password)."""
        return f"postgresql://{user}@127.0.0.1:{self.port}/{db}"


def _as_server_user(cmd: list[str]) -> tuple[list[str], int | None, int | None]:
    if os.geteuid() != 0:
        return cmd, None, None
    for name in ("postgres", "nobody"):
        try:
            user = pwd.getpwnam(name)
        except KeyError:
            continue
        return ["runuser", "-u", name, "--", *cmd], user.pw_uid, user.pw_gid
    pytest.fail("running as root and neither a postgres nor a nobody user exists for PostgreSQL")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def postgres_server() -> Iterator[Server]:
    """Start PostgreSQL 15 and yield it; a missing or failing PostgreSQL fails the test."""
    initdb, pg_ctl = PG_BIN / "initdb", PG_BIN / "pg_ctl"
    if not (initdb.is_file() and pg_ctl.is_file()):
        pytest.fail(
            f"PostgreSQL 15 is not installed ({initdb} missing): "
            "apt-get install postgresql-15, or set SOC2OPA_PG_BIN"
        )
    folder = Path(tempfile.mkdtemp(prefix="soc2opa-pg-"))
    data, log = folder / "data", folder / "server.log"
    _, uid, gid = _as_server_user([])
    if uid is not None and gid is not None:
        os.chown(folder, uid, gid)
    port = _free_port()

    def run(cmd: list[str]) -> None:
        full, _, _ = _as_server_user(cmd)
        done = subprocess.run(full, capture_output=True, text=True, timeout=180, check=False)
        if done.returncode != 0:
            tail = log.read_text()[-2000:] if log.exists() else ""
            pytest.fail(f"{' '.join(cmd[:2])} failed: {done.stderr[-2000:]}\n{tail}")

    started = False
    try:
        run([str(initdb), "-D", str(data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8",
             "--no-sync", "--no-instructions"])  # fmt: skip
        options = (
            f"-p {port} -c listen_addresses=127.0.0.1 -k {folder} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=50"
        )
        run([str(pg_ctl), "-D", str(data), "-o", options, "-l", str(log), "-w", "-t", "120",
             "start"])  # fmt: skip
        started = True
        yield Server(port)
    finally:
        if started:
            full, _, _ = _as_server_user(
                [str(pg_ctl), "-D", str(data), "-m", "immediate", "-w", "stop"]
            )
            subprocess.run(full, capture_output=True, timeout=120, check=False)
        shutil.rmtree(folder, ignore_errors=True)
