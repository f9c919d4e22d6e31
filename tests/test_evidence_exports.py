"""Exports of an audit window: OSCAL AR and HDF validate, in-toto verifies, HTML renders."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import re
import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jsonschema import Draft7Validator
from PIL import Image

from soc2opa.evidence.html import COLOURS
from soc2opa.evidence.intoto import PAYLOAD_TYPE, STATEMENT_TYPE, pae, verify_envelope
from soc2opa.evidence.store import append, read
from soc2opa.evidence.views import OBSERVED
from tests.conftest import ROOT, SOC2OPA, Run
from tests.evidence_schemas import hdf_validator, oscal_schema
from tests.evidence_window import DAYS, FIRST_DAY, GAPS, build_window


@pytest.fixture(scope="module")
def window(opa: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    tmp = tmp_path_factory.mktemp("window")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "SOC2OPA_OPA": str(opa)}
        return subprocess.run([str(SOC2OPA), *args], capture_output=True, text=True, env=env,
                              cwd=ROOT, timeout=300)  # fmt: skip

    return build_window(run, tmp)


def _export(run: Run, store: Path, fmt: str, *extra: str) -> str:
    proc = run("evidence", "export", str(store), "--format", fmt, *extra)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_oscal_assessment_results_validate(run: Run, window: tuple[Path, list[str]]) -> None:
    store, _ = window
    text = _export(run, store, "oscal-ar")
    doc = json.loads(text)
    validator = Draft7Validator(
        oscal_schema("oscal_assessment-results_schema.json"),
        format_checker=Draft7Validator.FORMAT_CHECKER,
    )
    assert [e.message for e in validator.iter_errors(doc)] == []
    ar = doc["assessment-results"]
    assert ar["metadata"]["oscal-version"] == "1.1.3"
    # The assessment plan it imports is in its back-matter, and is itself valid.
    (resource,) = ar["back-matter"]["resources"]
    assert ar["import-ap"]["href"] == f"#{resource['uuid']}"
    plan = json.loads(base64.b64decode(resource["base64"]["value"]))
    ap_errors = Draft7Validator(oscal_schema("oscal_assessment-plan_schema.json")).iter_errors(plan)
    assert [e.message for e in ap_errors] == []
    (result,) = ar["results"]
    rows = list(read(store))
    expected = sum(c["status"] in OBSERVED for r in rows for c in r.record["controls"].values())
    assert len(result["observations"]) == expected
    findings = {f["target"]["target-id"]: f for f in result["findings"]}
    assert findings["cc6.1"]["target"]["status"]["state"] == "not-satisfied"
    assert findings["cc6.3"]["target"]["status"]["state"] == "satisfied"
    risks = {r["title"].split(":")[0]: r for r in result["risks"]}
    cloudtrail = next(r for t, r in risks.items() if t.endswith("waivers.yaml#1"))
    assert cloudtrail["deadline"] == "2099-12-31T23:59:59Z"
    assert cloudtrail["status"] == "deviation-approved"
    assert any(cloudtrail["uuid"] in [x["risk-uuid"] for x in f.get("related-risks", [])]
               for f in findings.values())  # fmt: skip
    assert all(uuid.UUID(o["uuid"]).version == 5 for o in result["observations"])
    # Deterministic: the same records give the same document, byte for byte.
    assert _export(run, store, "oscal-ar") == text
    broken = json.loads(text)
    broken["assessment-results"]["results"][0]["findings"][0]["target"]["status"]["state"] = "ok"
    assert list(validator.iter_errors(broken)), "the schema must reject a bad status"


def test_hdf_validates_with_waiver_data(run: Run, window: tuple[Path, list[str]]) -> None:
    store, _ = window
    doc = json.loads(_export(run, store, "hdf", "--from", "2026-03-10"))
    validator = hdf_validator()
    assert [e.message for e in validator.iter_errors(doc)] == []
    (profile,) = doc["profiles"]
    controls = {c["id"]: c for c in profile["controls"]}
    rds = controls["rds_instance_storage_encrypted"]
    assert {r["status"] for r in rds["results"]} == {"failed"}
    assert all(r["start_time"] >= "2026-03-10" for r in rds["results"])
    trail = controls["cloudtrail_multi_region_trail_enabled"]["waiver_data"]
    assert (
        trail["expiration_date"] == "2099-12-31" and "organisation trail" in trail["justification"]
    )
    assert controls["kms_key_rotation_enabled"]["waiver_data"] is None
    unknown = [r for c in controls.values() for r in c["results"] if "skip_message" in r]
    assert unknown and all(r["status"] == "skipped" for r in unknown)
    bad = {**doc, "profiles": [{**profile, "controls": [{**rds, "impact": "high"}]}]}
    assert list(validator.iter_errors(bad)), "the schema must reject a bad impact"


@pytest.fixture
def key_pem(tmp_path: Path) -> tuple[Path, Ed25519PrivateKey]:
    key = Ed25519PrivateKey.generate()
    path = tmp_path / "signing.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))  # fmt: skip
    return path, key


def test_intoto_statements_are_signed(
    run: Run, window: tuple[Path, list[str]], key_pem: tuple[Path, Ed25519PrivateKey]
) -> None:
    store, _ = window
    path, key = key_pem
    lines = _export(run, store, "intoto", "--key", str(path), "--to", "2026-03-03").splitlines()
    rows = [r for r in read(store) if r.recorded_at[:10] <= "2026-03-03"]
    assert len(lines) == len(rows) > 1
    public = key.public_key()
    for line, row in zip(lines, rows, strict=True):
        envelope = json.loads(line)
        assert envelope["payloadType"] == PAYLOAD_TYPE
        # The signature is Ed25519 over the DSSE PAE, checked here with cryptography directly.
        body = base64.b64decode(envelope["payload"])
        public.verify(base64.b64decode(envelope["signatures"][0]["sig"]), pae(PAYLOAD_TYPE, body))
        statement = verify_envelope(envelope, public)
        assert statement["_type"] == STATEMENT_TYPE
        assert statement["subject"][0]["digest"]["sha256"] == row.record["plan"]["sha256"]
        assert statement["predicate"]["record_hash"] == row.record_hash
        assert statement["predicate"]["record"] == row.record
    forged = json.loads(lines[0])
    claim = json.loads(base64.b64decode(forged["payload"]))
    claim["predicate"]["record"]["exit_code"] = 0
    forged["payload"] = base64.b64encode(json.dumps(claim).encode()).decode()
    with pytest.raises(ValueError, match="no signature"):
        verify_envelope(forged, public)
    with pytest.raises(ValueError, match="no signature"):
        verify_envelope(json.loads(lines[0]), Ed25519PrivateKey.generate().public_key())
    env_lines = run("evidence", "export", str(store), "--format", "intoto", "--key-env", "K",
                    "--to", "2026-03-03", env={"K": path.read_text()}).stdout  # fmt: skip
    assert len(env_lines.splitlines()) == len(rows)
    missing = run("evidence", "export", str(store), "--format", "intoto")
    assert missing.returncode == 2 and "--key" in missing.stderr


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("Chromium is required for the HTML report test: apt-get install chromium")
    return found


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[list[str]]:
    profile = tmp_path / "chromium-profile"
    yield [_chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--hide-scrollbars", f"--user-data-dir={profile}"]  # fmt: skip


def test_html_report_renders_offline(
    run: Run, window: tuple[Path, list[str]], chromium: list[str], tmp_path: Path
) -> None:
    store, _ = window
    page = tmp_path / "evidence.html"
    page.write_text(_export(run, store, "html"))
    text = page.read_text()
    assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in text and "<script" not in text
    dom = subprocess.run([*chromium, "--dump-dom", page.as_uri()], capture_output=True,
                         text=True, timeout=120).stdout  # fmt: skip
    rows = list(read(store))
    assert dom.count('<tr class="sample"') == 25 < len(rows)
    for day in sorted(GAPS):
        assert f'<li class="gap" data-day="2026-03-{FIRST_DAY.day + day:02d}">' in dom
    assert 'id="crit-CC6.1"' in dom and 'id="crit-A1.2"' in dom
    assert dom.count('<tr class="waiver"') == 2
    assert f"{len(rows)} records, chain intact" in dom
    assert f"on {DAYS - len(GAPS)} of {DAYS} days" in dom
    shot = tmp_path / "shot.png"
    subprocess.run([*chromium, "--window-size=1200,900", f"--screenshot={shot}", page.as_uri()],
                   capture_output=True, timeout=120, check=True)  # fmt: skip
    image = Image.open(shot).convert("RGB")
    counts: dict[str, int] = {}
    for n, colour in image.getcolors(maxcolors=1 << 20) or []:
        counts[colour] = counts.get(colour, 0) + n

    def drawn(name: str) -> int:
        hex_ = COLOURS[name].lstrip("#")
        target = tuple(int(hex_[i : i + 2], 16) for i in (0, 2, 4))
        return sum(n for c, n in counts.items()
                   if max(abs(a - b) for a, b in zip(c, target, strict=True)) <= 8)  # fmt: skip

    # The first charts are on screen: bars of failures and of unknowns, and greyed gap days.
    assert drawn("fail") > 2000, counts
    assert drawn("unknown") > 500
    white = counts.get((255, 255, 255), 0)
    assert white < image.width * image.height * 0.95


def test_no_sensitive_value_in_the_store_or_any_export(
    run: Run, window: tuple[Path, list[str]], key_pem: tuple[Path, Ed25519PrivateKey]
) -> None:
    store, secrets = window
    with sqlite3.connect(store) as conn:
        dump = "\n".join(conn.iterdump())
    texts = {"store": store.read_bytes().decode("latin-1"), "dump": dump}
    for fmt in ("jsonl", "csv", "oscal-ar", "hdf", "html"):
        texts[fmt] = _export(run, store, fmt)
    intoto = _export(run, store, "intoto", "--key", str(key_pem[0]))
    texts["intoto"] = intoto + "".join(
        base64.b64decode(json.loads(line)["payload"]).decode() for line in intoto.splitlines()
    )
    oscal = json.loads(texts["oscal-ar"])["assessment-results"]["back-matter"]["resources"][0]
    texts["oscal-ap"] = base64.b64decode(oscal["base64"]["value"]).decode()
    for secret in secrets:
        assert len(secret) > 8
        for name, text in texts.items():
            assert secret not in text, f"{secret!r} leaked into {name}"


def test_html_samples_carry_inclusion_proofs(
    run: Run, window: tuple[Path, list[str]], chromium: list[str], tmp_path: Path
) -> None:
    store = tmp_path / "checkpointed.db"
    shutil.copy(window[0], store)
    key = tmp_path / "signing.key"
    made = run("evidence", "keygen", "--name", "test.example/soc2", "-o", str(key))
    assert made.returncode == 0, made.stderr
    public = tmp_path / "evidence.pub"
    public.write_text(made.stdout)
    signed = run("evidence", "checkpoint", str(store), "--key", str(key))
    assert signed.returncode == 0, signed.stderr
    covered = len(list(read(store)))
    last = list(read(store))[-1].record
    append(store, {**last, "started_at": "2026-03-31T08:00:00.000000+00:00",
                   "ended_at": "2026-03-31T08:00:05.000000+00:00"})  # fmt: skip
    page = tmp_path / "proofs.html"
    page.write_text(_export(run, store, "html"))
    dom = subprocess.run([*chromium, "--dump-dom", page.as_uri()], capture_output=True,
                         text=True, timeout=120).stdout  # fmt: skip
    seqs = [int(s) for s in re.findall(r'<tr class="sample" data-seq="(\d+)"', dom)]
    assert len(seqs) == 25
    inclusion = dom.count('class="proof inclusion"')
    assert inclusion == sum(s <= covered for s in seqs) > 0
    assert dom.count('class="proof chain"') == sum(s > covered for s in seqs)
    assert f"cover records 1..{covered}" in dom
    # The proof JSON in the page is what `soc2opa evidence verify-proof` checks offline.
    proof_json = html.unescape(re.findall(r'<details>.*?<pre class="mono">(.*?)</pre>', dom,
                                          re.S)[0])  # fmt: skip
    proof = tmp_path / "proof.json"
    proof.write_text(proof_json)
    checked = run("evidence", "verify-proof", str(proof), "--public-key", str(public))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # The same key signs in-toto statements (a signed-note key works as well as PEM).
    lines = _export(run, store, "intoto", "--key", str(key), "--from", "2026-03-31")
    assert len(lines.splitlines()) == 1


def test_signed_note_keys_with_plus_signs_in_their_base64_parse() -> None:
    from soc2opa.evidence.intoto import parse_private_key
    from soc2opa.evidence.note import generate

    keys = [generate("test.example/soc2") for _ in range(64)]
    assert any("+" in k.text().split("+", 4)[4] for k in keys)
    for k in keys:
        assert parse_private_key(k.text()).private_bytes_raw() == k.key.private_bytes_raw()


def _drawn(page: str) -> tuple[dict[str, str], list[int]]:
    method = re.search(r'<p id="sample-method" ([^>]*)>', page)
    assert method, "the page states how its sample was drawn"
    attrs = dict(re.findall(r'data-([a-z]+)="([^"]*)"', method.group(1)))
    seqs = [int(s) for s in re.findall(r'<tr class="sample" data-seq="(\d+)"', page)]
    listed = re.search(r'<span id="sampled-seqs">([^<]*)</span>', page)
    assert listed and [int(s) for s in listed.group(1).split(", ")] == seqs
    return attrs, seqs


def test_html_sample_size_and_seed_are_reproducible_and_stated(
    run: Run, window: tuple[Path, list[str]]
) -> None:
    store, _ = window
    rows = [r for r in read(store) if r.recorded_at[:10] >= "2026-03-10"]
    args = ("--from", "2026-03-10", "--sample", "7", "--seed", "audit-2026")
    page = _export(run, store, "html", *args)
    attrs, seqs = _drawn(page)
    assert attrs == {"seed": "audit-2026", "size": "7", "population": str(len(rows)),
                     "drawn": "7"}  # fmt: skip
    # An auditor redraws it without soc2opa: rank each record_hash by SHA-256("SEED:HASH").
    ranked = sorted(rows, key=lambda r: hashlib.sha256(f"audit-2026:{r.record_hash}".encode())
                    .hexdigest())  # fmt: skip
    assert seqs == sorted(r.seq for r in ranked[:7])
    assert _drawn(_export(run, store, "html", *args))[1] == seqs
    other = _drawn(_export(run, store, "html", "--from", "2026-03-10", "--sample", "7",
                           "--seed", "audit-2027"))[1]  # fmt: skip
    assert len(other) == 7 and other != seqs
    default, picked = _drawn(_export(run, store, "html"))
    everything = list(read(store))
    assert default["seed"] == everything[-1].record_hash and default["size"] == "25"
    assert default["population"] == str(len(everything)) and len(picked) == 25
    assert len(_drawn(_export(run, store, "html", *args[:2], "--sample", "1000"))[1]) == len(rows)
    refused = run("evidence", "export", str(store), "--format", "csv", "--sample", "3")
    assert refused.returncode == 2 and "--format html" in refused.stderr
    assert (
        run("evidence", "export", str(store), "--format", "html", "--sample", "0").returncode == 2
    )
