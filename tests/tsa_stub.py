"""A local RFC 3161 Time-Stamp Authority for tests: a test CA (optionally with an intermediate CA)
and TSA certificate made here, and an HTTP server on 127.0.0.1 whose answers `openssl ts -reply`
signs, with the TSA certificate only or, with `chain`, the whole chain (`-chain`)."""

from __future__ import annotations

import datetime
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_CONFIG = """\
[ tsa ]
default_tsa = tsa_config1
[ tsa_config1 ]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = yes
other_policies = 1.2.3.4.5
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )  # fmt: skip


def _ca(
    name: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    signer: ec.EllipticCurvePrivateKey,
    now: datetime.datetime,
) -> x509.Certificate:
    return (
        x509.CertificateBuilder().subject_name(name).issuer_name(issuer)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                       critical=True)
        .sign(signer, hashes.SHA256())
    )  # fmt: skip


def make_pki(folder: Path, cn: str = "soc2opa test TSA", *, intermediate: bool = False) -> Path:
    """A root CA, optionally an intermediate CA under it, and a TSA certificate (critical EKU
    timeStamping) issued by the last CA, in folder; chain.pem holds the CAs (intermediate first).
    Returns the root CA's PEM."""
    now = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)
    later = now + datetime.timedelta(days=2)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = _ca(_name(f"{cn} root"), root_key, _name(f"{cn} root"), root_key, now)
    cas, issuer, issuer_key = [root], root, root_key
    if intermediate:
        mid_key = ec.generate_private_key(ec.SECP256R1())
        issuer = _ca(_name(f"{cn} intermediate"), mid_key, root.subject, root_key, now)
        cas, issuer_key = [issuer, root], mid_key
    tsa_key = ec.generate_private_key(ec.SECP256R1())
    tsa = (
        x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(issuer.subject)
        .public_key(tsa_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(later)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False),
                       critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(issuer_key, hashes.SHA256())
    )  # fmt: skip
    pem = serialization.Encoding.PEM
    (folder / "ca.pem").write_bytes(root.public_bytes(pem))
    (folder / "chain.pem").write_bytes(b"".join(c.public_bytes(pem) for c in cas))
    (folder / "tsa.pem").write_bytes(tsa.public_bytes(pem))
    (folder / "tsa.key").write_bytes(_pem_key(tsa_key))
    (folder / "serial").write_text("01\n")
    (folder / "tsa.cnf").write_text(_CONFIG.format(dir=folder))
    return folder / "ca.pem"


@dataclass
class Stub:
    """The running TSA: its URL, its CA file, and how many requests it answered."""

    url: str
    ca: Path
    answered: int = 0


@contextmanager
def tsa_server(folder: Path, *, chain: bool = False, intermediate: bool = False) -> Iterator[Stub]:
    """Serve RFC 3161 over HTTP on 127.0.0.1 (a random port) until the block ends; with chain,
    each answer carries the CA certificates after the TSA's (`openssl ts -reply -chain`)."""
    folder.mkdir(parents=True, exist_ok=True)
    ca = make_pki(folder, intermediate=intermediate)
    extra = ["-chain", str(folder / "chain.pem")] if chain else []
    lock = threading.Lock()
    stub = Stub("", ca)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            query = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                (folder / "q.tsq").write_bytes(query)
                done = subprocess.run(
                    ["openssl", "ts", "-reply", "-config", str(folder / "tsa.cnf"),
                     "-queryfile", str(folder / "q.tsq"), "-out", str(folder / "r.tsr"), *extra],
                    capture_output=True, text=True, check=False,
                )  # fmt: skip
                body = (folder / "r.tsr").read_bytes() if done.returncode == 0 else b""
                stub.answered += 1
            self.send_response(200 if body else 500)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    stub.url = f"http://127.0.0.1:{server.server_address[1]}/tsa"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
