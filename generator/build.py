"""Writes rego/, docs/controls.md and bundles/soc2opa.tar.gz from the catalog, or checks them."""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import subprocess
import tarfile
import tempfile
import textwrap
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import jinja2
import yaml

from generator import computed_blocks
from generator.compiler import CheckCompiler, rego_literal
from generator.docs import help_uri, render_docs
from generator.examples import example_plan, example_target, hcl_target
from generator.input_reads import policy_reads
from generator.plans import fixture_problem, load_fixture
from generator.targets.sources import catalog_digest
from soc2opa import __version__
from soc2opa.catalog import Control, catalog_types, example_slug, load_catalog
from soc2opa.errors import CatalogError, EngineError
from soc2opa.operators import docs_regions, operators_json_text
from soc2opa.provider_schema import SCHEMA_FILE, provider_schema_at, staleness
from soc2opa.tools import MIN_OPA_VERSION

# Folders the build owns entirely (stale files in them are removed), with the files' extension.
GENERATED_DIRS = (("rego/controls", "rego"), ("docs/controls", "md"))
BUNDLE = "bundles/soc2opa.tar.gz"
_TEMPLATES = Path(__file__).parent / "templates"


@dataclass
class BuildResult:
    """What a build wrote, or in check mode, what is stale."""

    revision: str
    controls: int
    stale: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@functools.cache
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )


def revision(root: Path) -> str:
    """A hash of the catalog, the generator and the hand-written Rego it builds on."""
    digest = hashlib.sha256()
    files = [
        *root.glob("controls/**/*.yaml"),
        *root.glob("controls/**/*.rego"),
        *root.glob("controls/RETIRED"),
        *root.glob("generator/**/*.py"),
        *root.glob("generator/templates/*"),
        # The compiler's operator arguments and node types live in the package.
        *root.glob("soc2opa/operators.py"),
        *root.glob("soc2opa/checks.py"),
        *root.glob("rego/lib/*.rego"),
        *root.glob("rego/system/*.rego"),
        *root.glob("rego/*.rego"),
    ]
    generated = {root / "rego/build.rego"}
    for path in sorted(
        p for p in files if p.is_file() and "_test" not in p.name and p not in generated
    ):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


class _BlockDumper(yaml.SafeDumper):
    pass


def _str_presenter(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _str_presenter)


def _metadata(control: Control) -> str:
    d = control.data
    custom: dict[str, Any] = {
        "id": d["id"],
        "service": d["service"],
        "severity": d["severity"],
        "criteria": d["criteria"],
        "resource_types": d["resource_types"],
    }
    if "category" in d:
        custom["category"] = d["category"]
    custom["remediation"] = d["remediation"]
    if d.get("crosswalk"):
        custom["crosswalk"] = d["crosswalk"]
    if d.get("reference"):
        custom["reference"] = d["reference"]
    if d.get("beyond_reference"):
        custom["beyond_reference"] = " ".join(d["beyond_reference"].split())
    if d.get("aggregate") == "any":
        custom["scope"] = "account"
    if d.get("runtime_evidence"):
        custom["runtime_evidence"] = " ".join(d["runtime_evidence"].split())
    custom["source"] = control.path.as_posix()
    custom["help_uri"] = help_uri(d["service"], d["id"])
    annotation = {
        "title": d["title"],
        "description": " ".join(d["description"].split()),
        "scope": "package",
        "custom": custom,
    }
    text = yaml.dump(
        annotation, Dumper=_BlockDumper, sort_keys=False, width=10_000, allow_unicode=True
    )
    return "# METADATA\n" + "".join(f"# {line}".rstrip() + "\n" for line in text.splitlines())


def _notes_expr(notes: list[str]) -> str:
    """One Rego array expression joining the note arrays of a control's nodes ("" for none)."""
    if not notes:
        return ""
    expr = notes[0]
    for note in notes[1:]:
        expr = f"array.concat({expr}, {note})"
    return expr


def _assertions(target: str, example: dict[str, Any]) -> list[str]:
    t = rego_literal(target)
    expect = example["expect"]
    if expect == "pass":
        lines = [f"{t} in d.pass"]
        if "message_contains" in example:
            lines.append(f"contains(d.notes[{t}], {rego_literal(example['message_contains'])})")
    elif expect == "not_judged":
        lines = [f"not {t} in d.pass", f"not d.fail[{t}]", f"not d.unknown[{t}]"]
    else:
        lines = [f"d.{expect}[{t}]"]
        if "message_contains" in example:
            lines.append(f"contains(d.{expect}[{t}], {rego_literal(example['message_contains'])})")
        if "message_excludes" in example:
            lines.append(
                f"not contains(d.{expect}[{t}], {rego_literal(example['message_excludes'])})"
            )
    return lines


def _header(d: dict[str, Any], decided: bool, custom: bool) -> list[str]:
    """The sentences at the top of a generated control: what it checks, and how to read it."""
    types = " or ".join(d["resource_types"]) or "resource"
    text = f"What it checks: {d['title']}, on each {types}"
    if d.get("aggregate") == "any":
        text += " (account level: each gets the best outcome in the plan)"
    if not decided:
        text = f"{d['title']}: a plan never decides this; it needs runtime evidence."
    elif custom:
        text += (
            f". The rules at the end come from controls/{d['service']}/{d['id']}.rego;"
            " result(r) returns the status and the reason together."
        )
    else:
        text += (
            ". Each node of the YAML check compiles to a rule pair, _sN(r) giving pass, fail or"
            " unknown and _wN(r, want) the reasons, under a comment holding that node; the last"
            " pair is the whole check."
        )
    return textwrap.wrap(text, 98)


def render_control(
    control: Control, root: Path, planned: dict[str, Any] | None = None
) -> dict[str, str]:
    """The generated Rego policy and test for one control, keyed by path relative to root.

    planned holds the control's HCL examples as Terraform planned them, by example slug.
    """
    d = control.data
    rego_file = control.path.with_suffix(".rego")
    compiler = CheckCompiler(d["id"], rego_file.read_text() if rego_file.is_file() else None)
    try:
        when = compiler.compile(control.when, d["resource_types"]) if control.when else None
        top = compiler.compile(control.check, d["resource_types"]) if control.check else None
    except ValueError as exc:
        raise CatalogError(f"{control.path}: check: {exc}") from exc
    out = compiler.out
    source = control.path.relative_to(root).as_posix()
    env = _env()
    policy = env.get_template("control.rego.j2").render(
        source=source,
        metadata=_metadata(replace(control, path=control.path.relative_to(root))),
        id=d["id"],
        uses_refs=out.uses_refs,
        uses_check=out.uses_check,
        uses_tri=out.uses_tri,
        uses_policy=out.uses_policy,
        uses_config=out.uses_config,
        notes=_notes_expr(out.notes),
        uses_backup=out.uses_backup,
        resource_types=(
            "{" + ", ".join(rego_literal(t) for t in d["resource_types"]) + "}"
            if d["resource_types"]
            else "set()"
        ),
        when=when,
        root=top,
        aggregate=d.get("aggregate", "each"),
        runtime_only=top is None,
        functions=out.functions,
        custom_rego=out.custom_rego,
        custom_imports=out.custom_imports,
        header=_header(d, top is not None, bool(out.custom_rego)),
    )
    tests = []
    if top is None:
        tests.append(
            {
                "name": "a plan never decides this control",
                "expect": "runtime",
                "slug": "00_runtime_only",
                "input": json.dumps({"format_version": "1.2", "resource_changes": []}),
                "assertions": ["d.runtime", "count(d.pass) == 0"],
            }
        )
    for i, ex in enumerate(d.get("examples", [])):
        slug = example_slug(ex["name"])
        if "hcl" in ex:
            plan = (planned or {}).get(slug)
            if plan is None:
                raise CatalogError(f"{control.path}: example {ex['name']!r} is not planned yet")
            try:
                target = hcl_target(control, ex, plan)
            except ValueError as exc:
                raise CatalogError(str(exc)) from None
        else:
            plan, target = example_plan(control, ex), example_target(control, ex)
        tests.append(
            {
                "name": ex["name"],
                "expect": ex["expect"],
                "slug": f"{i:02d}_{ex['expect']}_{slug}",
                "input": json.dumps(plan, sort_keys=True),
                "assertions": _assertions(target, ex),
            }
        )
    test = env.get_template("control_test.rego.j2").render(source=source, id=d["id"], tests=tests)
    base = f"rego/controls/{d['service']}/{d['id']}"
    return {f"{base}.rego": policy, f"{base}_test.rego": test}


def _operator_files(root: Path) -> dict[str, str]:
    """The files derived from the operator table: its JSON Schema and the docs' table."""
    out: dict[str, str] = {}
    if (root / "soc2opa/schemas").is_dir():
        out["soc2opa/schemas/operators.schema.json"] = operators_json_text()
    guide = root / "docs/check-language.md"
    if guide.is_file():
        text = guide.read_text()
        for begin, finish, table in docs_regions():
            start, end = text.find(begin), text.find(finish)
            if start < 0 or end < start:
                raise CatalogError(f"{guide.relative_to(root)}: the markers {begin} are missing")
            text = text[:start] + table + text[end + len(finish) :]
        out["docs/check-language.md"] = text
    return out


def _opa(opa: Path, *args: str, cwd: Path | None = None, stdin: str | None = None) -> str:
    proc = subprocess.run([str(opa), *args], capture_output=True, text=True, cwd=cwd, input=stdin)
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise EngineError(f"opa {args[0]} failed: {' | '.join(detail[:6])}")
    return proc.stdout


def _format_all(files: dict[str, str], opa: Path) -> dict[str, str]:
    with tempfile.TemporaryDirectory() as tmp:
        for rel, text in files.items():
            path = Path(tmp, rel)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        rego = [rel for rel in files if rel.endswith(".rego")]
        if rego:
            _opa(opa, "fmt", "-w", *rego, cwd=Path(tmp))
        return {rel: Path(tmp, rel).read_text() for rel in files}


def _same_bundle(bundle: Path, fresh: Path) -> bool:
    """Whether the bundle exists with the same members as a freshly built one."""
    return bundle.is_file() and _bundle_members(bundle.read_bytes()) == _bundle_members(
        fresh.read_bytes()
    )


def _bundle_members(data: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return {
            m.name.lstrip("/"): tar.extractfile(m).read()  # type: ignore[union-attr]
            for m in tar.getmembers()
            if m.isfile()
        }


# What soc2opa eval needs to compile only the controls a plan can reach (docs/performance.md).
SELECTION_QUERY = (
    '{"stubs": {id: d | some id; d := data.soc2opa.controls[id].decision}, '
    '"types": {id: t | some id; t := data.soc2opa.controls[id].resource_types}, '
    '"scans": [id | some id; data.soc2opa.controls[id].reads_every_resource == true]}'
)
_EMPTY_PLAN = '{"format_version": "1.2", "resource_changes": []}'


def _selection(staging: Path, opa: Path, modules: dict[str, str]) -> dict[str, Any]:
    """The bundle's selection index, read from the staged bundle by opa itself.

    stubs holds each control's decision on a plan without its resource types, which is what the
    report carries for a control the engine does not load; always lists controls it must load.
    """
    out = _opa(
        opa,
        *("eval", "--format", "json", "--bundle", ".", "--ignore", "*_test.rego"),
        *("--stdin-input", SELECTION_QUERY),
        cwd=staging,
        stdin=_EMPTY_PLAN,
    )
    value = json.loads(out)["result"][0]["expressions"][0]["value"]
    stubs, types = value["stubs"], value["types"]
    if set(stubs) != set(modules) or set(types) != set(modules):
        raise EngineError("the built bundle's controls differ from the catalog's")
    index: dict[str, Any] = {
        "version": 1,
        "modules": modules,
        "types": {cid: sorted(types[cid]) for cid in sorted(modules)},
        # A control without resource types that is not runtime-only may judge anything.
        "always": sorted(c for c in modules if not types[c] and not stubs[c].get("runtime")),
        "stubs": {cid: stubs[cid] for cid in sorted(modules)},
        # Controls that read every resource of a plan, whatever their types (soc2opa/shards.py).
        "scans": sorted(value["scans"]),
    }
    reads = policy_reads(staging)
    if reads is not None:
        index["input"] = reads.to_manifest()
    return index


def _build_bundle(
    root: Path, opa: Path, files: dict[str, str], out: Path, modules: dict[str, str]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        staging = Path(tmp, "rego")
        for src in root.glob("rego/**/*"):
            rel = src.relative_to(root).as_posix()
            if src.is_file() and not rel.startswith("rego/controls"):
                dest = Path(tmp, rel)
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(src.read_bytes())
        for rel, text in files.items():
            if rel.startswith("rego/"):
                dest = Path(tmp, rel)
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_text(text)
        manifest = json.loads(Path(staging, ".manifest").read_text())
        manifest["metadata"]["selection"] = _selection(staging, opa, modules)
        Path(staging, ".manifest").write_text(json.dumps(manifest, indent=2) + "\n")
        # Built from inside the staging folder so member paths do not carry the temp path.
        _opa(
            opa,
            "build",
            "-b",
            ".",
            "--ignore",
            "*_test.rego",
            "-o",
            str(out.resolve()),
            cwd=staging,
        )


def build(root: Path, opa: Path, check: bool = False) -> BuildResult:
    """Generate everything from controls/; in check mode report stale files and write nothing."""
    schema = provider_schema_at(root)
    controls = load_catalog(root / "controls", schema)
    schema_stale = staleness(schema, catalog_types(root / "controls"))
    schema_stale += computed_blocks.staleness(root, SCHEMA_FILE)
    rev = revision(root)
    files: dict[str, str] = {}
    result = BuildResult(revision=rev, controls=len(controls))
    for control in controls:
        problem = fixture_problem(root, control)
        if problem and check:
            result.stale.append(f"tests/plans/{control.service}/{control.id}.json ({problem})")
            continue
        files.update(render_control(control, root, load_fixture(root, control)))
    files["rego/build.rego"] = (
        "# DO NOT EDIT: generated by soc2opa build from controls/ and generator/\n"
        "# METADATA\n# title: Build facts\n"
        "# description: The revision of the catalog and generator this bundle was built from.\n"
        "# scope: package\n"
        f"package soc2opa.build\n\nrevision := {rego_literal(rev)}\n\n"
        f"min_opa_version := {rego_literal(MIN_OPA_VERSION)}\n"
    )
    files = _format_all(files, opa)
    # Bundle member of each control's module, for the selection index.
    modules = {
        c.id: f"controls/{c.service}/{c.id}.rego"
        for c in controls
        if f"rego/controls/{c.service}/{c.id}.rego" in files
    }
    files["rego/.manifest"] = (
        json.dumps(
            {
                "revision": rev,
                "roots": ["soc2opa", "system/log"],
                "rego_version": 1,
                "metadata": {
                    "name": "soc2opa",
                    "version": __version__,
                    "controls": len(controls),
                    "catalog_digest": catalog_digest(root),
                    "min_opa_version": MIN_OPA_VERSION,
                },
            },
            indent=2,
        )
        + "\n"
    )
    files.update(render_docs(controls, root))
    files.update(_operator_files(root))
    result.notes = schema_stale
    existing = {
        p.relative_to(root).as_posix()
        for d, ext in GENERATED_DIRS
        for p in root.glob(f"{d}/**/*.{ext}")
    }
    if check:
        for rel, text in sorted(files.items()):
            path = root / rel
            if not path.is_file() or path.read_text() != text:
                result.stale.append(rel)
        result.stale += schema_stale
        result.stale += sorted(existing - set(files))
        with tempfile.TemporaryDirectory() as tmp:
            fresh = Path(tmp, "bundle.tar.gz")
            _build_bundle(root, opa, files, fresh, modules)
            if not _same_bundle(root / BUNDLE, fresh):
                result.stale.append(BUNDLE)
        return result
    for rel in sorted(existing - set(files)):
        (root / rel).unlink()
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_file() or path.read_text() != text:
            path.write_text(text)
    bundle = root / BUNDLE
    bundle.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=bundle.parent, prefix=".building-", suffix=".tar.gz")
    os.close(fd)
    fresh = Path(name)
    try:
        _build_bundle(root, opa, files, fresh, modules)
        # Replaced whole, and only when its members change: a run reading the bundle meanwhile
        # (another build, an eval, a test) never sees half of one.
        if not _same_bundle(bundle, fresh):
            fresh.chmod(0o644)  # mkstemp's file is private; a bundle is meant to be shared
            os.replace(fresh, bundle)
    finally:
        fresh.unlink(missing_ok=True)
    return result
