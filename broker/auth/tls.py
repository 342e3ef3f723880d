"""Certificates for local TLS: a CA, a server certificate it signed, and optionally client
certificates (for client-certificate logins), made with the `cryptography` package.

The files fit Twisted's endpoint strings directly:
`ssl:61617:privateKey=DIR/server-key.pem:certKey=DIR/server.pem`; with the
`tls_client_ca` setting, `ssl:` listeners also ask clients for a certificate signed by
that CA, and a certificate whose subject is a user's `subject` logs in as that user.
"""
from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path
from typing import Any

from OpenSSL import SSL
from twisted.internet.endpoints import SSL4ServerEndpoint
from twisted.internet.interfaces import IOpenSSLContextFactory
from zope.interface import implementer
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALID_DAYS = 825


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _builder(subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePrivateKey) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=VALID_DAYS)))


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def self_signed(out: Path, hosts: list[str], clients: list[str]) -> list[Path]:
    """Write ca.pem, ca-key.pem, server.pem, server-key.pem (and client-NAME.pem /
    client-NAME-key.pem per client, subject CN=NAME) into `out`; the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    ca_key = _key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mqgate local CA")])
    ca = (_builder(ca_name, ca_name, ca_key)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    written = []

    def issue(stem: str, name: x509.Name, usage: x509.ObjectIdentifier, sans: list[str]) -> None:
        key = _key()
        builder = (_builder(name, ca_name, key)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([usage]), critical=False))
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName([_san(h) for h in sans]), critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        _write_cert(out / f"{stem}.pem", cert)
        _write_key(out / f"{stem}-key.pem", key)
        written.extend([out / f"{stem}.pem", out / f"{stem}-key.pem"])

    _write_cert(out / "ca.pem", ca)
    _write_key(out / "ca-key.pem", ca_key)
    written.extend([out / "ca.pem", out / "ca-key.pem"])
    issue("server", x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]),
          ExtendedKeyUsageOID.SERVER_AUTH, hosts)
    for client in clients:
        issue(f"client-{client}", x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, client)]),
              ExtendedKeyUsageOID.CLIENT_AUTH, [])
    return written


@implementer(IOpenSSLContextFactory)
class _AskForClientCertificates:
    """A server context factory that also asks clients for a certificate signed by `ca`.

    A client without one still connects (and logs in with a password); one with a
    certificate the CA did not sign is refused during the handshake."""

    def __init__(self, wrapped: Any, ca: Path) -> None:
        self.wrapped = wrapped
        self.ca = ca
        self._context: Any = None

    def getContext(self) -> Any:
        # A context cannot change once a connection used it: set it up once.
        if self._context is None:
            context = self.wrapped.getContext()
            context.load_verify_locations(str(self.ca))
            context.set_verify(SSL.VERIFY_PEER, lambda conn, cert, errno, depth, ok: bool(ok))
            self._context = context
        return self._context


def ask_for_client_certificates(endpoint: Any, ca: str) -> Any:
    """`endpoint` (from an `ssl:` endpoint string) asking clients for certificates."""
    if isinstance(endpoint, SSL4ServerEndpoint):
        endpoint._sslContextFactory = _AskForClientCertificates(endpoint._sslContextFactory, Path(ca))
    return endpoint
