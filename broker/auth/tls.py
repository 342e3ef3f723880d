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

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from twisted.internet import endpoints, ssl

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


class _ClientCertificateReactor:
    """The reactor as an `ssl:` endpoint sees it, listening with server options that also
    ask clients for a certificate signed by `ca`.

    The endpoint string is parsed by Twisted as usual; its `listenSSL` call (the public
    IReactorSSL interface) hands over the server's key and certificate, and the listener
    gets `CertificateOptions` made with the same ones plus `verify` against the CA. A
    client without a certificate still connects (and logs in with a password); one with a
    certificate the CA did not sign is refused during the handshake."""

    def __init__(self, reactor: Any, ca: Path) -> None:
        self._reactor = reactor
        self._ca = ssl.Certificate.loadPEM(ca.read_bytes()).original

    def listenSSL(self, port: int, factory: Any, contextFactory: Any, backlog: int = 50,
                  interface: str = "") -> Any:
        options = ssl.CertificateOptions(
            privateKey=contextFactory.privateKey, certificate=contextFactory.certificate,
            extraCertChain=contextFactory.extraCertChain or None, dhParameters=contextFactory.dhParameters,
            verify=True, caCerts=[self._ca], requireCertificate=False)
        return self._reactor.listenSSL(port, factory, options, backlog=backlog, interface=interface)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._reactor, name)


def server_endpoint(reactor: Any, description: str, client_ca: str = "") -> Any:
    """The server endpoint for `description`; with `client_ca`, an `ssl:` one asks clients
    for certificates that CA signed (other kinds are unchanged)."""
    if client_ca and description.split(":", 1)[0] == "ssl":
        reactor = _ClientCertificateReactor(reactor, Path(client_ca))
    return endpoints.serverFromString(reactor, description)
