"""The bundle extracted once into a private cache folder, keyed by the bundle's SHA-256.

Selective evaluation (soc2opa/selection.py) hands opa single modules of the bundle, so they must
exist as files. The cache is the user's own (mode 0700, owned by them, no symbolic links), a
folder appears there complete or not at all (built in a temporary folder, then renamed), and a
bundle whose contents or index soc2opa does not recognise is not cached: the engine then loads
the whole bundle as before. See docs/performance.md and docs/security.md.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import stat
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from soc2opa.leanrego import lean_module
from soc2opa.libdeps import library_needs
from soc2opa.plantrim import PolicyReads

if TYPE_CHECKING:
    import tarfile

CACHE_ENV = "SOC2OPA_CACHE_DIR"
INDEX = "index.json"
# Part of a cached folder's name: a soc2opa whose index holds more extracts the bundle afresh
# rather than reading an older index (format 2 added each control's libraries, format 3 the
# modules without METADATA, soc2opa/leanrego.py, and their sizes in the bundle; format 4 the
# controls that read every resource of a plan, for the process split).
INDEX_FORMAT = b"soc2opa-index-4\n"
# Cached bundles kept; older ones are removed when a new one is added.
KEEP = 8
MAX_BUNDLE_BYTES = 64 << 20
MAX_MEMBERS = 20_000
_SHA = re.compile(r"^[0-9a-f]{64}$")
_NAME = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")


@dataclass(frozen=True)
class CachedBundle:
    """An extracted bundle: its folder, the files always loaded, and its selection index."""

    folder: Path
    base: list[str]
    modules: dict[str, str]
    types: dict[str, list[str]]
    always: list[str]
    stubs: dict[str, Any]
    # What the bundle's Rego reads of a plan (soc2opa/plantrim.py); None: the whole plan.
    reads: PolicyReads | None = None
    # The libraries each control needs (soc2opa/libdeps.py); None: every library, always.
    libs: dict[str, Any] | None = None
    # Each control module's size in the bundle, before the cache left out its METADATA.
    sizes: dict[str, int] | None = None
    # The controls that read every resource of a plan, not only their types' (shards.py).
    scans: frozenset[str] = frozenset()


def cache_root() -> Path:
    """$SOC2OPA_CACHE_DIR, else $XDG_CACHE_HOME/soc2opa/bundles, else ~/.cache/soc2opa/bundles."""
    given = os.environ.get(CACHE_ENV)
    if given:
        return Path(given)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "soc2opa" / "bundles"


def _private(path: Path) -> bool:
    """A real folder (not a link) owned by this user that nobody else may enter or change."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return (
        stat.S_ISDIR(info.st_mode)
        and info.st_uid == os.geteuid()
        and stat.S_IMODE(info.st_mode) & 0o077 == 0
    )


def _root(create: bool) -> Path | None:
    root = cache_root()
    if create and not os.path.lexists(root):
        with contextlib.suppress(OSError):
            root.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            root.mkdir(mode=0o700)
    return root if _private(root) else None


def _member_name(member: tarfile.TarInfo) -> str | None:
    name = member.name
    while name.startswith(("/", "./")):
        name = name[1:] if name.startswith("/") else name[2:]
    if not _NAME.match(name) or any(part in (".", "..") for part in name.split("/")):
        return None
    return name


def _members(data: bytes) -> dict[str, bytes] | None:
    """The bundle's files, when it holds only what a soc2opa build writes; None otherwise."""
    import tarfile  # only when a bundle is first cached

    out: dict[str, bytes] = {}
    total = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for count, member in enumerate(tar):
                name = _member_name(member)
                if count >= MAX_MEMBERS or name is None or not member.isfile() or name in out:
                    return None
                if not (name.endswith(".rego") or name in ("data.json", ".manifest")):
                    return None
                total += member.size
                if total > MAX_BUNDLE_BYTES:
                    return None
                handle = tar.extractfile(member)
                if handle is None:
                    return None
                out[name] = handle.read(member.size + 1)
                if len(out[name]) != member.size:
                    return None
    except (OSError, tarfile.TarError, EOFError, ValueError):
        return None
    return out


def _index(files: dict[str, bytes]) -> dict[str, Any] | None:
    """The selection index from the manifest, checked against the bundle's files."""
    try:
        manifest = json.loads(files[".manifest"])
        selection = manifest["metadata"]["selection"]
        modules, types = selection["modules"], selection["types"]
        always, stubs = selection["always"], selection["stubs"]
    except (KeyError, TypeError, ValueError, RecursionError):
        return None
    # Modules are read as Rego v1 when loaded one by one; other versions keep the full bundle.
    if manifest.get("rego_version", 1) != 1 or manifest.get("file_rego_versions"):
        return None
    if selection.get("version") != 1 or not isinstance(modules, dict):
        return None
    ids = set(modules)
    if not (
        all(isinstance(p, str) and p.endswith(".rego") and p in files for p in modules.values())
        and len(set(modules.values())) == len(modules)
        and isinstance(types, dict)
        and set(types) == ids
        and all(isinstance(t, list) and all(isinstance(x, str) for x in t) for t in types.values())
        and isinstance(always, list)
        and set(always) <= ids
        and isinstance(stubs, dict)
        and set(stubs) == ids
    ):
        return None
    base = sorted(n for n in files if n != ".manifest" and n not in set(modules.values()))
    reads = PolicyReads.from_manifest(selection.get("input"))
    return {
        "base": base, "modules": modules, "types": types, "always": always, "stubs": stubs,
        "scans": _scans(selection.get("scans"), ids),
        "input": reads.to_manifest() if reads else None,
        "libs": library_needs(files, modules.values()),
        "sizes": {path: len(files[path]) for path in modules.values()},
    }  # fmt: skip


def _write(folder: Path, name: str, data: bytes) -> None:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _load(folder: Path) -> CachedBundle | None:
    if not _private(folder):
        return None
    try:
        index = json.loads((folder / INDEX).read_bytes())
        with contextlib.suppress(OSError):
            os.utime(folder)
        return CachedBundle(
            folder=folder,
            base=index["base"],
            modules=index["modules"],
            types=index["types"],
            always=index["always"],
            stubs=index["stubs"],
            reads=PolicyReads.from_manifest(index.get("input")),
            libs=_libs(index.get("libs"), index["base"], index["modules"]),
            sizes=_sizes(index.get("sizes"), index["modules"]),
            scans=frozenset(_scans(index.get("scans"), set(index["modules"]))),
        )
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return None


def _libs(entry: Any, base: list[str], modules: dict[str, str]) -> dict[str, Any] | None:
    """The index's library needs when their shape is the one libdeps writes, else None."""
    if not isinstance(entry, dict) or not isinstance(entry.get("controls"), dict):
        return None
    lists = [entry.get("library"), entry.get("rest"), *entry["controls"].values()]
    if not all(isinstance(v, list) and set(v) <= set(base) for v in lists):
        return None
    if set(entry["controls"]) != set(modules.values()):
        return None
    return entry


def _scans(entry: Any, ids: set[str]) -> list[str]:
    """The index's controls that read every resource; none when absent or not understood."""
    if isinstance(entry, list) and all(isinstance(c, str) and c in ids for c in entry):
        return sorted(set(entry))
    return []


def _sizes(entry: Any, modules: dict[str, str]) -> dict[str, int] | None:
    if not isinstance(entry, dict) or set(entry) != set(modules.values()):
        return None
    if not all(type(n) is int and n >= 0 for n in entry.values()):
        return None
    return entry


def _metas(index: dict[str, Any]) -> dict[str, Any]:
    """Each control module's recorded meta value (its stub's), by module path."""
    stubs = index["stubs"]
    return {
        path: stubs[cid].get("meta")
        for cid, path in index["modules"].items()
        if isinstance(stubs.get(cid), dict)
    }


def _mtime(path: Path) -> float:
    try:
        return path.lstat().st_mtime
    except OSError:
        return 0.0


def _prune(root: Path, keep: Path) -> None:
    """Remove all but the KEEP most recently used bundles (and abandoned temporary folders)."""
    try:
        found = list(root.iterdir())
    except OSError:
        return
    now = time.time()
    for tmp in found:
        with contextlib.suppress(OSError):
            if tmp.name.startswith(".tmp-") and now - tmp.lstat().st_mtime > 3600:
                shutil.rmtree(tmp, ignore_errors=True)
    entries = [p for p in found if _SHA.match(p.name) and p != keep]
    entries.sort(key=_mtime, reverse=True)
    for old in entries[KEEP - 1 :]:
        shutil.rmtree(old, ignore_errors=True)


def cached_bundle(bundle: Path) -> CachedBundle | None:
    """The bundle's extracted copy, made on first use; None when it cannot or may not be cached."""
    try:
        with open(bundle, "rb") as handle:
            data = handle.read(MAX_BUNDLE_BYTES + 1)
    except OSError:
        return None
    if len(data) > MAX_BUNDLE_BYTES:
        return None
    root = _root(create=True)
    if root is None:
        return None
    digest = hashlib.sha256(INDEX_FORMAT + data).hexdigest()
    found = _load(root / digest)
    if found is not None:
        return found
    files = _members(data)
    index = _index(files) if files is not None else None
    if files is None or index is None:
        return None
    try:
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=root))
    except OSError:
        return None
    try:
        # Rego goes in without its METADATA (soc2opa/leanrego.py).
        metas = _metas(index)
        for name in index["base"] + list(index["modules"].values()):
            data = files[name]
            if name.endswith(".rego"):
                data = lean_module(data, metas.get(name))
            _write(tmp, name, data)
        # Written last: a folder with an index is complete.
        _write(tmp, INDEX, json.dumps(index).encode())
        os.rename(tmp, root / digest)
    except OSError:
        # Another soc2opa may have made it meanwhile; otherwise the full bundle is used.
        shutil.rmtree(tmp, ignore_errors=True)
        return _load(root / digest)
    _prune(root, root / digest)
    return _load(root / digest)
