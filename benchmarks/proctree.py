"""Wall time and peak resident memory of a whole process tree, read from /proc (Linux).

`measure(cmd)` starts `cmd` and, until it exits, samples every `interval` seconds the resident
set (`/proc/<pid>/statm`) of the command and of every descendant (a process whose parent is in
the tree, found by reading `/proc/<pid>/stat` of each process that appeared since the last
sample), plus any `extra_pids` (an OPA server the command talks to). The peak is the largest sum
of one sample, raised to the kernel's own high-water mark for the largest single process of the
tree (`ru_maxrss` from `wait4`, exact but per process), so a short peak of one process between
two samples is not lost. Peaks of two processes that fall between the same two samples can be.
"""

from __future__ import annotations

import os
import resource
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class Measurement:
    """One run of a command."""

    seconds: float
    peak_rss: int  # bytes
    sampled_peak_rss: int  # bytes, largest summed sample
    max_single_rss: int  # bytes, kernel high-water mark of the largest process of the tree
    returncode: int
    processes: int  # distinct processes seen in the tree
    stderr_tail: str


def _ppid(pid: int) -> int | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: fields restart after the last ')'.
    return int(raw[raw.rindex(b")") + 2 :].split()[1])


def _rss(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_bytes().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


class _Tree:
    def __init__(self, root: int) -> None:
        self.root = root
        self.members = {root}
        self.seen_all = {root}
        self.known: set[int] = set(self._pids())

    @staticmethod
    def _pids() -> list[int]:
        return [int(p) for p in os.listdir("/proc") if p.isdigit()]

    def refresh(self) -> None:
        current = self._pids()
        fresh = [p for p in current if p not in self.known]
        self.known = set(current)
        parents = {p: _ppid(p) for p in fresh}
        changed = True
        while changed:
            changed = False
            for pid, parent in parents.items():
                if pid not in self.members and parent in self.members:
                    self.members.add(pid)
                    self.seen_all.add(pid)
                    changed = True
        self.members &= self.known | {self.root}

    def rss(self) -> int:
        return sum(_rss(p) for p in self.members)


def measure(
    cmd: Sequence[str],
    *,
    ok: Sequence[int] = (0,),
    extra_pids: Sequence[int] = (),
    interval: float = 0.01,
    timeout: float = 1800.0,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> Measurement:
    """Run `cmd` (stdout discarded) and measure it; raises RuntimeError on an unexpected exit."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        list(cmd),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        cwd=cwd,
    )
    tree = _Tree(proc.pid)
    peak = 0
    status: int | None = None
    usage: resource.struct_rusage | None = None
    assert proc.stderr is not None
    os.set_blocking(proc.stderr.fileno(), False)
    err = bytearray()
    while True:
        chunk = _drain(proc.stderr.fileno())
        err.extend(chunk)
        del err[:-8192]
        pid, wstatus, ru = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            seconds = time.perf_counter() - start
            status, usage = wstatus, ru
            break
        tree.refresh()
        peak = max(peak, tree.rss() + sum(_rss(p) for p in extra_pids))
        if time.perf_counter() - start > timeout:
            proc.kill()
            os.wait4(proc.pid, 0)
            raise RuntimeError(f"{cmd[0]} timed out after {timeout:.0f} s")
        time.sleep(interval)
    proc.returncode = os.waitstatus_to_exitcode(status)
    err.extend(_drain(proc.stderr.fileno()))
    proc.stderr.close()
    single = usage.ru_maxrss * 1024
    result = Measurement(
        seconds=seconds,
        peak_rss=max(peak, single),
        sampled_peak_rss=peak,
        max_single_rss=single,
        returncode=proc.returncode,
        processes=len(tree.seen_all),
        stderr_tail=err.decode(errors="replace")[-2000:],
    )
    if result.returncode not in ok:
        raise RuntimeError(
            f"{' '.join(cmd[:3])} ... exited {result.returncode}: {result.stderr_tail[-600:]}"
        )
    return result


def _drain(fd: int) -> bytes:
    out = bytearray()
    while True:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            break
        if not chunk:
            break
        out.extend(chunk)
    return bytes(out)
