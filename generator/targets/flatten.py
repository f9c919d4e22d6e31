"""Folds the soc2opa Rego packages into one module, for platforms that take a single file."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from soc2opa.yamlfile import parse_yaml

_TOKEN = re.compile(r'"(?:\\.|[^"\\\n])*"|`[^`]*`|#[^\n]*')
_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_KEYWORDS = {"package", "import", "default", "else", "if", "contains", "some", "every", "not"}


@dataclass
class Module:
    """One Rego source file: its package, import aliases and top-level rule names."""

    path: str
    text: str

    @property
    def package(self) -> str:
        """The dotted package path without the data. prefix."""
        match = re.search(rf"^package ({_IDENT}(?:\.{_IDENT})*)", self.text, re.M)
        if not match:
            raise ValueError(f"{self.path}: no package line")
        return match.group(1)

    def imports(self) -> dict[str, str]:
        """Alias -> imported package path (data. stripped)."""
        found = {}
        for path, alias in re.findall(
            rf"^import data\.([\w.]+)(?: as ({_IDENT}))?$", self.text, re.M
        ):
            found[alias or path.rsplit(".", 1)[-1]] = path
        return found

    def rules(self) -> set[str]:
        """Names of the rules this module defines (heads start in column 0 after opa fmt)."""
        names = set()
        for line in self.text.splitlines():
            match = re.match(rf"(?:default )?({_IDENT})", line)
            if match and match.group(1) not in _KEYWORDS:
                names.add(match.group(1))
        return names

    def annotation(self) -> dict[str, object]:
        """The package-scoped METADATA block, as rego.metadata.chain() would return it."""
        head = self.text.split("\npackage ", 1)[0].splitlines()
        if "# METADATA" not in head:
            return {}
        block = head[head.index("# METADATA") + 1 :]
        data = parse_yaml("\n".join(line[2:] if line.startswith("# ") else "" for line in block))
        return data if isinstance(data, dict) else {}


def prefix_for(package: str) -> str:
    """The rule-name prefix a package's rules get in the folded module."""
    return package.rsplit(".", 1)[-1] + "__" if package != "soc2opa" else "soc2opa__"


def _code_and_literals(text: str) -> list[tuple[bool, str]]:
    parts: list[tuple[bool, str]] = []
    pos = 0
    for match in _TOKEN.finditer(text):
        parts.append((True, text[pos : match.start()]))
        if not match.group(0).startswith("#"):
            parts.append((False, match.group(0)))
        pos = match.end()
    parts.append((True, text[pos:]))
    return parts


def _rewrite(module: Module, prefixes: dict[str, str]) -> str:
    own = prefix_for(module.package)
    aliases = {alias: prefixes[path] for alias, path in module.imports().items()}
    rules = module.rules()
    meta = json.dumps(module.annotation(), sort_keys=True)
    body = []
    for line in module.text.splitlines():
        if line.startswith(("package ", "import ")):
            continue
        if line.startswith("meta := ") and "rego.metadata.chain()" in line:
            line = f"meta := {meta}"
        body.append(line)
    out = []
    for is_code, chunk in _code_and_literals("\n".join(body)):
        if is_code:
            chunk = chunk.replace("data.soc2opa.controls[id].decision", "_soc2opa_controls[id]")
            chunk = chunk.replace("data.soc2opa.controls[id].meta", "_soc2opa_meta[id]")
            chunk = re.sub(
                rf"(?<![\w.])({'|'.join(map(re.escape, aliases)) or '(?!)'})\.({_IDENT})",
                lambda m: aliases[m.group(1)] + m.group(2),
                chunk,
            )
            chunk = re.sub(
                rf"(?<![\w.])({'|'.join(map(re.escape, sorted(rules))) or '(?!)'})\b",
                lambda m: own + m.group(1),
                chunk,
            )
        out.append(chunk)
    text = "".join(out)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(ln.rstrip() for ln in text.splitlines())).strip()


def fold(modules: list[Module], package: str, header: str) -> str:
    """One module in package, holding every rule of modules under a per-package prefix."""
    prefixes = {m.package: prefix_for(m.package) for m in modules}
    if len(set(prefixes.values())) != len(prefixes):
        raise ValueError("two packages would share a prefix in the folded module")
    controls = sorted(
        (m.package.rsplit(".", 1)[-1], prefixes[m.package])
        for m in modules
        if m.package.startswith("soc2opa.controls.")
    )
    parts = [header.rstrip(), f"package {package}", _V0_IMPORTS]
    parts.append(
        "_soc2opa_controls := {\n"
        + "".join(f'\t"{cid}": {p}decision,\n' for cid, p in controls)
        + "}"
    )
    parts.append(
        "_soc2opa_meta := {\n" + "".join(f'\t"{cid}": {p}meta,\n' for cid, p in controls) + "}"
    )
    parts += [_rewrite(m, prefixes) for m in modules]
    return "\n\n".join(parts) + "\n"


# Accepted by OPA 1.x (as no-ops) and by OPA 0.x from the release that added if/contains, so
# the same file loads where import rego.v1 is unknown (self-hosted Spacelift, older OPA pins).
_V0_IMPORTS = (
    "import future.keywords.contains\nimport future.keywords.every\n"
    "import future.keywords.if\nimport future.keywords.in"
)
V0_IMPORTS = _V0_IMPORTS
