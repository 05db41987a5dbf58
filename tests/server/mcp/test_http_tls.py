"""`serve --http --certfile --keyfile`: uvicorn serves the MCP endpoint over HTTPS itself (a self-signed pair)."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import anyio
import httpx2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.clock import FixedClock
from tests.harness import ENV, simulated_home
from tests.reliability.stdio import server_environ
from tests.server.mcp.test_http import INITIALIZE

pytestmark = pytest.mark.anyio

#: the certificate's validity is not what this test is about: it spans any clock the suite runs on
NOT_BEFORE, NOT_AFTER = dt.datetime(2000, 1, 1, tzinfo=dt.UTC), dt.datetime(2099, 1, 1, tzinfo=dt.UTC)


def _self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


async def test_with_a_certificate_and_its_key_the_endpoint_is_https(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    home = tmp_path / "home"
    async with simulated_home(home, FixedClock()):
        command = [sys.executable, "-m", "server.cli", "serve", "--http", "--port", "0"]
        env = server_environ(home, {**ENV, "PROVIDER_ROUTER_LOG_LEVEL": "WARNING"})
        async with await anyio.open_process(
            [*command, "--certfile", str(cert), "--keyfile", str(key)], env=env
        ) as proc:
            try:
                assert proc.stdout is not None
                with anyio.fail_after(60):
                    line = b""
                    while not line.endswith(b"\n"):
                        line += await proc.stdout.receive(1)
                url = line.decode().split(" ", 1)[1].strip()
                assert url.startswith("https://127.0.0.1:")
                async with httpx2.AsyncClient(verify=False, timeout=30) as http:
                    headers = {"accept": "application/json, text/event-stream"}
                    response = await http.post(url, json=INITIALIZE, headers=headers)
                assert response.status_code == 200 and response.headers["mcp-session-id"]
            finally:
                proc.terminate()
                await proc.wait()
