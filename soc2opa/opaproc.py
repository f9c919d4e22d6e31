"""Running the opa binary in its own process group, killed as a group on timeout or interrupt."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
_MIB = 1 << 20
# Go's heap while opa compiles and judges a plan stays below this many bytes per plan byte
# (measured up to 10k resources: 1.1 GB live for a 17 MB plan) plus a fixed part for the policy.
_HEAP_PER_INPUT_BYTE = 64
_HEAP_BASE = 256 * _MIB


def memory_cap() -> int | None:
    """Half of the memory this process may use (the cgroup's limit or the machine's)."""
    caps = []
    with contextlib.suppress(OSError, ValueError):
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            caps.append(int(limit))
    with contextlib.suppress(OSError, ValueError, StopIteration):
        lines = Path("/proc/meminfo").read_text().splitlines()
        total = next(ln for ln in lines if ln.startswith("MemTotal:"))
        caps.append(int(total.split()[1]) * 1024)
    return min(caps) // 2 if caps else None


def opa_env(
    input_bytes: int, *, concurrency: int = 1, base: int = _HEAP_BASE, processes: int = 1
) -> dict[str, str]:
    """opa's environment, with Go's garbage collector set for one compile and a few evaluations.

    opa spends about a third of a run's CPU collecting garbage with Go's default GOGC=100
    (docs/performance.md). A run that ends after its plans needs no collection until the heap
    nears what those plans can use, so collection is off (GOGC=off) under a soft limit
    (GOMEMLIMIT) of base bytes plus a share per input byte; past it Go collects as usual.
    GOGC or GOMEMLIMIT in the environment, or $SOC2OPA_OPA_MEMORY (Go's syntax, e.g. 4GiB), are
    left to decide. With several opa processes at once (processes), each may use its share of
    the cap.
    """
    env = dict(os.environ)
    if "GOGC" in env or "GOMEMLIMIT" in env:
        return env
    chosen = env.get("SOC2OPA_OPA_MEMORY")
    if chosen:
        env["GOMEMLIMIT"] = chosen
        return env
    want = base + _HEAP_PER_INPUT_BYTE * max(0, input_bytes) * max(1, concurrency)
    cap = memory_cap()
    # All processes' limits together stay within three quarters of the memory: live heaps must
    # fit in memory_cap()'s half (shards.py), the rest is garbage Go may leave for later, which
    # saved two processes a tenth of their time at 100k resources (docs/performance.md).
    cap = cap * 3 // 2 // max(1, processes) if cap else cap
    limit = min(want, cap) if cap else want
    if limit < base:
        return env
    env["GOGC"] = "off"
    env["GOMEMLIMIT"] = f"{limit // _MIB}MiB"
    return env


class OpaTimeout(Exception):
    """opa ran longer than the deadline; its whole process group has been killed."""


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    # The group outlives its leader while any member runs, so its id cannot be reused yet.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def run_opa(
    opa: Path,
    args: list[str],
    *,
    stdin: bytes | None = None,
    timeout: float,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run opa with args; the input goes through a pipe, never through a temporary file."""
    proc = _spawn(opa, args, env, with_input=stdin is not None)
    try:
        out, err = proc.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        proc.communicate()
        raise OpaTimeout() from None
    finally:
        _end([proc])
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _spawn(
    opa: Path, args: list[str], env: dict[str, str] | None, *, with_input: bool
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(opa), *args],
        stdin=subprocess.PIPE if with_input else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        env=env,
    )


def _end(procs: list[subprocess.Popen[bytes]]) -> None:
    """Kill each process group and reap its leader.

    Also on KeyboardInterrupt and on SIGTERM/SIGHUP (turned into exceptions by the CLI): opa
    runs in its own session, so no terminal signal reaches it unless we send one.
    """
    for proc in procs:
        _kill_group(proc)
    for proc in procs:
        if proc.poll() is None:
            proc.wait()


def run_opa_many(
    opa: Path,
    runs: list[tuple[list[str], dict[str, str] | None]],
    *,
    stdin: bytes,
    timeout: float,
    then: Callable[[subprocess.CompletedProcess[bytes]], T],
) -> list[T]:
    """Run several opa processes at once, each given the same input; all end when this returns.

    Each ended process is handed to `then` at once, in its own thread, so its answer is read
    while the others still run (on a core the ended one left free); its results come back in the
    order of runs, and the first error `then` raises, in that order, is raised here. Each runs in
    its own process group; on a timeout, an interrupt or any error every group is killed, as
    run_opa does for one.
    """
    procs: list[subprocess.Popen[bytes]] = []
    results: list[tuple[T] | BaseException | None] = [None] * len(runs)
    deadline = time.monotonic() + timeout

    def talk(i: int) -> None:
        # communicate() in a thread per process: the pipes of each are read while all run.
        try:
            out, err = procs[i].communicate(stdin, timeout=max(0.0, deadline - time.monotonic()))
            results[i] = (
                then(subprocess.CompletedProcess(procs[i].args, procs[i].returncode, out, err)),
            )
        except subprocess.TimeoutExpired:
            results[i] = None
        except Exception as exc:  # handed to the caller's thread below
            results[i] = exc

    try:
        for args, env in runs:
            procs.append(_spawn(opa, args, env, with_input=True))
        threads = [threading.Thread(target=talk, args=(i,), daemon=True) for i in range(len(runs))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        _end(procs)
    done: list[T] = []
    for result in results:
        if result is None:
            raise OpaTimeout()
        if isinstance(result, BaseException):
            raise result
        done.append(result[0])
    return done
