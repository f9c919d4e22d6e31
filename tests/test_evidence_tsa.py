"""RFC 3161 timestamps on checkpoints, from a local TSA (openssl ts -reply) on 127.0.0.1."""

from __future__ import annotations

import base64
import socket
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
import rfc3161_client

from soc2opa.evidence.audit import audit
from soc2opa.evidence.checkpoint import write_checkpoint
from soc2opa.evidence.der import sort_certificates
from soc2opa.evidence.store import open_store
from soc2opa.evidence.tsa import load_roots, request_timestamp
from tests.conftest import Run
from tests.tamper_cases import OWNER, record
from tests.tsa_stub import Stub, make_pki, tsa_server


@pytest.fixture(scope="module")
def tsa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stub]:
    with tsa_server(tmp_path_factory.mktemp("tsa")) as stub:
        yield stub


def _store(path: Path, days: range = range(1, 4)) -> None:
    with closing(open_store(path)) as store:
        for n in days:
            store.append(record(n, day=n))


def test_a_timestamped_checkpoint_verifies_against_the_tsa(
    run: Run, tsa: Stub, tmp_path: Path
) -> None:
    store, key = tmp_path / "e.db", tmp_path / "k.key"
    _store(store)
    key.write_text(OWNER.text())
    before = tsa.answered
    cp = run("evidence", "checkpoint", str(store), "--key", str(key),
             env={"SOC2OPA_TSA_URL": tsa.url})  # fmt: skip
    assert cp.returncode == 0 and "RFC 3161 timestamp stored" in cp.stderr, cp.stderr
    assert tsa.answered == before + 1
    ok = run("evidence", "verify", str(store), "--tsa-ca", str(tsa.ca))
    assert ok.returncode == 0, ok.stderr
    assert "1 RFC 3161 timestamps hold (signature and hash)" in ok.stdout
    other = make_pki(tmp_path)
    wrong = run("evidence", "verify", str(store), "--tsa-ca", str(other))
    assert wrong.returncode == 1 and "the TSA's signature does not verify" in wrong.stderr
    hash_only = run("evidence", "verify", str(store))
    assert hash_only.returncode == 0 and "hash only" in hash_only.stdout


def test_a_timestamp_moved_to_another_checkpoint_is_caught(tsa: Stub, tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    _store(path)
    with closing(open_store(path)) as store:
        write_checkpoint(store, OWNER, timestamper=lambda note: (
            request_timestamp(tsa.url, note), tsa.url))  # fmt: skip
        store.append(record(4, day=4))
        write_checkpoint(store, OWNER, timestamper=lambda note: (
            request_timestamp(tsa.url, note), tsa.url))  # fmt: skip
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TRIGGER checkpoints_no_update")
        conn.execute("UPDATE checkpoints SET timestamp = (SELECT timestamp FROM checkpoints "
                     "WHERE id = 1) WHERE id = 2")  # fmt: skip
    with closing(open_store(path)) as store:
        verdict = audit(store.rows(), store.checkpoints(), verifier=OWNER.verifier,
                        tsa_roots=load_roots(tsa.ca))  # fmt: skip
    assert verdict.problem and "checkpoint 2: its RFC 3161 timestamp does not hold" in (
        verdict.problem
    )


def test_a_record_dated_after_its_trusted_timestamp_is_postdated(tsa: Stub, tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    with closing(open_store(path)) as store:
        store.append(record(1, day=1))
        store.append({**record(2), "ended_at": "2099-01-01T00:00:00+00:00"})
        write_checkpoint(store, OWNER, timestamper=lambda note: (
            request_timestamp(tsa.url, note), tsa.url))  # fmt: skip
        verdict = audit(store.rows(), store.checkpoints(), verifier=OWNER.verifier)
    assert verdict.problem and "record 2 is dated 2099-01-01" in verdict.problem
    assert "postdated" in verdict.problem


def test_no_checkpoint_is_stored_when_the_tsa_does_not_answer(run: Run, tmp_path: Path) -> None:
    store, key = tmp_path / "e.db", tmp_path / "k.key"
    _store(store)
    key.write_text(OWNER.text())
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    failed = run("evidence", "checkpoint", str(store), "--key", str(key),
                 "--tsa-url", f"http://127.0.0.1:{port}/", "--tsa-timeout", "5")  # fmt: skip
    assert failed.returncode == 2 and "no timestamp" in failed.stderr
    with closing(open_store(store)) as opened:
        assert opened.checkpoints() == []


@pytest.mark.parametrize("intermediate", [False, True], ids=["root-tsa", "root-intermediate-tsa"])
def test_a_tsa_sending_its_whole_chain_is_accepted_and_checked(
    run: Run, tmp_path: Path, intermediate: bool
) -> None:
    store, key = tmp_path / "c.db", tmp_path / "k.key"
    _store(store)
    key.write_text(OWNER.text())
    with tsa_server(tmp_path / "tsa", chain=True, intermediate=intermediate) as chained:
        # What the TSA sends: its certificate, then the CAs, in the order OpenSSL writes them,
        # which is not DER's order for a SET OF; rfc3161-client's DER parser refuses it as is.
        raw = base64.b64decode(request_timestamp(chained.url, b"probe"))
        with pytest.raises(ValueError, match="InvalidSetOrdering"):
            rfc3161_client.decode_timestamp_response(raw)
        assert sort_certificates(raw) != raw and len(sort_certificates(raw)) == len(raw)
        cp = run("evidence", "checkpoint", str(store), "--key", str(key), "--tsa-url", chained.url)
        assert cp.returncode == 0 and "RFC 3161 timestamp stored" in cp.stderr, cp.stderr
        other = make_pki(tmp_path, intermediate=intermediate)
    ok = run("evidence", "verify", str(store), "--tsa-ca", str(chained.ca))
    assert ok.returncode == 0, ok.stderr
    assert "1 RFC 3161 timestamps hold (signature and hash)" in ok.stdout
    wrong = run("evidence", "verify", str(store), "--tsa-ca", str(other))
    assert wrong.returncode == 1 and "the TSA's signature does not verify" in wrong.stderr
    # The store keeps the TSA's bytes as sent (the whole chain), which OpenSSL verifies too.
    with closing(open_store(store)) as opened:
        (stored,) = opened.checkpoints()
    token = base64.b64decode(str(stored.timestamp))
    response = rfc3161_client.decode_timestamp_response(sort_certificates(token))
    assert len(response.signed_data.certificates) == (3 if intermediate else 2)
    (tmp_path / "t.tsr").write_bytes(token)
    (tmp_path / "note").write_text(stored.note)
    checked = subprocess.run(
        ["openssl", "ts", "-verify", "-in", str(tmp_path / "t.tsr"), "-data",
         str(tmp_path / "note"), "-CAfile", str(chained.ca)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert checked.returncode == 0 and "Verification: OK" in checked.stdout, checked.stderr


def test_sorting_the_certificate_set_is_idempotent_and_never_raises(tmp_path: Path) -> None:
    with tsa_server(tmp_path / "tsa", chain=True, intermediate=True) as chained:
        raw = base64.b64decode(request_timestamp(chained.url, b"probe"))
    once = sort_certificates(raw)
    assert sort_certificates(once) == once
    rfc3161_client.decode_timestamp_response(once)
    for bad in (b"", b"\x30", b"garbage", raw[:100], raw[:-1], raw[:7] + b"\xff" + raw[8:]):
        assert sort_certificates(bad) == bad or len(sort_certificates(bad)) == len(bad)
