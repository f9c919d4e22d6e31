"""A warm opa server kept between runs (`soc2opa eval --warm`, `soc2opa warm`).

Every `soc2opa eval` otherwise parses and compiles the policy again. With --warm, the first run
judges as usual and starts, in the background, an `opa run --server` over the same bundle that
stays up until it has been idle for a while (15 minutes by default); later runs send their plan
to it and get the report without any compile. It suits machines that judge plan after plan:
a developer's laptop, an Atlantis or Spacelift worker, a pre-commit hook.

The server listens on a Unix socket in the user's private cache (a folder only they can enter,
socket mode 0600), never on a network port. It is keyed by the SHA-256 of the bundle and of the
opa binary, so a rebuilt bundle or another opa gets its own server and the old one idles out. A
lock held for the server's whole life makes two runs starting at once share one server. The
server loads its own copy of the bundle, taken when it starts, so it never judges with files
that changed under it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from soc2opa.bundlecache import _private, cache_root

IDLE_ENV = "SOC2OPA_WARM_IDLE"
DEFAULT_IDLE = 900.0
# Unix socket paths are limited to about 108 bytes; a longer one means no warm server.
_MAX_SOCKET_PATH = 100
_START_WAIT = 60.0


@dataclass(frozen=True)
class Slot:
    """Where one warm server for one (bundle, opa) pair keeps its files."""

    folder: Path
    key: str
    # Where the socket lives when the cache folder's path is too long for a Unix socket.
    sockets: Path | None = None

    def path(self, suffix: str) -> Path:
        """The slot's file with this suffix (sock, lock, used, tar.gz, json)."""
        if suffix == "sock" and self.sockets is not None:
            return self.sockets / f"{self.key}.sock"
        return self.folder / f"{self.key}.{suffix}"


def _short_folder() -> Path | None:
    """A private folder with a short path, in the system's temporary folder."""
    import tempfile

    folder = Path(tempfile.gettempdir()) / f"soc2opa-{os.geteuid()}"
    if not os.path.lexists(folder):
        with contextlib.suppress(OSError):
            folder.mkdir(mode=0o700)
    return folder if _private(folder) else None


def warm_folder(create: bool = True) -> Path | None:
    """The private folder holding warm servers' sockets; None when it is not private."""
    folder = cache_root() / "warm"
    if create and not os.path.lexists(folder):
        with contextlib.suppress(OSError):
            folder.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            folder.mkdir(mode=0o700)
    return folder if _private(folder) else None


def _digest(path: Path) -> str | None:
    try:
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:
        return None


def _binary(opa: Path) -> str | None:
    # The binary's identity without reading its 50 MB: where it is and which file is there.
    try:
        real = os.path.realpath(opa)
        info = os.stat(real)
    except OSError:
        return None
    return f"{real}:{info.st_dev}:{info.st_ino}:{info.st_size}:{info.st_mtime_ns}"


def slot_for(opa: Path, bundle: Path) -> Slot | None:
    """The slot of this bundle and opa binary; None when warm serving is not possible here."""
    folder = warm_folder()
    bundle_sha, binary = _digest(bundle), _binary(opa)
    if folder is None or bundle_sha is None or binary is None:
        return None
    key = hashlib.sha256(f"{bundle_sha}\0{binary}".encode()).hexdigest()[:24]
    slot = Slot(folder, key)
    if len(os.fsencode(slot.path("sock"))) > _MAX_SOCKET_PATH:
        short = _short_folder()
        if short is None:
            return None
        slot = Slot(folder, key, short)
    return slot if len(os.fsencode(slot.path("sock"))) <= _MAX_SOCKET_PATH else None


def idle_seconds() -> float:
    """How long a warm server waits for the next plan: $SOC2OPA_WARM_IDLE, else 900 s."""
    raw = os.environ.get(IDLE_ENV, "")
    try:
        value = float(raw)
    except ValueError:
        return DEFAULT_IDLE
    return value if 0 < value <= 7 * 86400 else DEFAULT_IDLE


def report(slot: Slot, plan: bytes, timeout: float) -> Any | None:
    """The raw report from the slot's server; None when no server answers there."""
    from soc2opa.opaserver import ServerFailed, _Server

    sock = slot.path("sock")
    if not sock.exists():
        return None
    with contextlib.suppress(OSError):
        os.utime(slot.path("used"))
    server = _Server(str(sock), time.monotonic() + timeout)
    try:
        return server.report(plan)
    except (ConnectionError, FileNotFoundError):
        return None
    except (ServerFailed, OSError) as exc:
        if isinstance(exc, TimeoutError):
            raise
        return None


def reports(slot: Slot, plans: list[bytes], timeout: float) -> list[Any] | None:
    """The raw reports of several plans from the slot's server; None when none answers."""
    from concurrent.futures import ThreadPoolExecutor

    from soc2opa.opaserver import workers

    first = report(slot, plans[0], timeout)
    if first is None:
        return None
    pool = ThreadPoolExecutor(min(workers(), len(plans)), thread_name_prefix="soc2opa-warm")
    try:
        rest = list(pool.map(lambda p: report(slot, p, timeout), plans[1:]))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    if any(r is None for r in rest):
        return None
    return [first, *rest]


def start(slot: Slot, opa: Path, bundle: Path, idle: float | None = None) -> None:
    """Start the slot's server in the background, detached from this run; never waits for it."""
    try:
        subprocess.Popen(
            [sys.executable, "-m", "soc2opa.warm", "serve", str(slot.folder), slot.key,
             str(slot.sockets or ""), str(opa), str(bundle), str(idle or idle_seconds())],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )  # fmt: skip
    except OSError:
        return


def wait_ready(slot: Slot, timeout: float = _START_WAIT) -> bool:
    """Wait until the slot's server answers its health check (for `soc2opa warm start`)."""
    from soc2opa.opaserver import _Server

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock = slot.path("sock")
        if sock.exists():
            with contextlib.suppress(OSError, ConnectionError, TimeoutError):
                if _Server(str(sock), time.monotonic() + 2).request("GET", "/health")[0] == 200:
                    return True
        time.sleep(0.05)
    return False


def running() -> list[dict[str, Any]]:
    """The warm servers of this user: slot key, pid, bundle, idle limit and seconds since use."""
    folder = warm_folder(create=False)
    if folder is None:
        return []
    out = []
    for info in sorted(folder.glob("*.json")):
        slot = Slot(folder, info.name[: -len(".json")])
        try:
            meta = json.loads(info.read_text())
            pid = int(meta["pid"])
            os.kill(pid, 0)
        except (OSError, ValueError, KeyError, TypeError):
            continue
        used = slot.path("used")
        since = time.time() - used.stat().st_mtime if used.exists() else None
        out.append({**meta, "key": slot.key, "idle_for": since})
    return out


def stop_all() -> int:
    """Stop every warm server of this user; the number stopped."""
    stopped = 0
    for server in running():
        with contextlib.suppress(OSError):
            os.kill(int(server["pid"]), signal.SIGTERM)
            stopped += 1
    return stopped


def server_env() -> dict[str, str]:
    """opa's environment with a soft memory limit for Go's garbage collector.

    A long-lived `opa run --server` given plan after plan otherwise lets its heap grow by tens of
    megabytes per request before collecting (seen at 9.8 GB after 170 requests of 1.6 MB); with
    GOMEMLIMIT it stays near its live data. $SOC2OPA_OPA_MEMORY overrides (Go's syntax, e.g. 4GiB).
    """
    limit = os.environ.get("SOC2OPA_OPA_MEMORY") or os.environ.get("GOMEMLIMIT") or "1GiB"
    return {**os.environ, "GOMEMLIMIT": limit}


def _serve(slot: Slot, opa: Path, bundle: Path, idle: float) -> int:
    lock = os.open(slot.path("lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return 0  # another run started this server first
    sock, copy = slot.path("sock"), slot.path("tar.gz")
    with contextlib.suppress(FileNotFoundError):
        sock.unlink()
    shutil.copyfile(bundle, copy)
    os.chmod(copy, 0o600)
    if slot_for(opa, copy) != slot:
        copy.unlink()  # the bundle changed since the run that asked for this server
        return 0
    proc = subprocess.Popen(
        [str(opa), "run", "--server", "--skip-version-check", "--log-level", "error",
         "--addr", f"unix://{sock}", "--unix-socket-perm", "600",
         "--shutdown-grace-period", "0", "--bundle", str(copy)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=server_env(),
    )  # fmt: skip
    stopping = False

    def _stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    meta = {"pid": os.getpid(), "opa_pid": proc.pid, "bundle": str(bundle), "opa": str(opa),
            "socket": str(sock), "idle": idle, "started": time.time()}  # fmt: skip
    slot.path("json").write_text(json.dumps(meta))
    try:
        # The idle clock starts once opa serves: compiling a big bundle may take longer than it.
        wait_ready(slot)
        slot.path("used").touch()
        while not stopping and proc.poll() is None:
            try:
                last = slot.path("used").stat().st_mtime
            except OSError:
                break
            if time.time() - last > idle:
                break
            time.sleep(min(1.0, idle / 4))
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for suffix in ("json", "sock", "tar.gz", "used"):
            with contextlib.suppress(OSError):
                slot.path(suffix).unlink()
        os.close(lock)
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 8 and sys.argv[1] == "serve":
        _folder, _key, _sockets, _opa, _bundle, _idle = sys.argv[2:]
        _slot = Slot(Path(_folder), _key, Path(_sockets) if _sockets else None)
        sys.exit(_serve(_slot, Path(_opa), Path(_bundle), float(_idle)))
    sys.exit(2)
