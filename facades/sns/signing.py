"""The key that signs SNS messages, and AWS's canonical string to sign.

Receivers that verify SNS messages (the AWS SDKs' message validators) fetch the PEM
certificate at ``SigningCertURL`` and check ``Signature`` over a canonical string built
from the message's own fields: SignatureVersion 1 is SHA1withRSA, 2 is SHA256withRSA.
mqgate makes its RSA key and a self-signed certificate on first start and keeps both in
the store, so the certificate URL stays valid across restarts.
"""
from __future__ import annotations

import base64
import datetime
from dataclasses import dataclass
from typing import Any, Mapping

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

#: Fields signed, in order, per message type (AWS's documented canonical form).
_NOTIFICATION_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
_CONFIRMATION_FIELDS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
_HASHES = {"1": hashes.SHA1, "2": hashes.SHA256}


def canonical_string(message: Mapping[str, Any]) -> bytes:
    """``Name\\nvalue\\n`` for each signed field present, in AWS's order."""
    fields = _NOTIFICATION_FIELDS if message["Type"] == "Notification" else _CONFIRMATION_FIELDS
    return "".join(f"{name}\n{message[name]}\n" for name in fields
                   if message.get(name) is not None).encode("utf-8")


@dataclass
class Signer:
    key: rsa.RSAPrivateKey
    certificate_pem: bytes

    @classmethod
    def generate(cls, now: datetime.datetime) -> "Signer":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com"),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mqgate")])
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=3650))
                .sign(key, hashes.SHA256()))
        return cls(key, cert.public_bytes(serialization.Encoding.PEM))

    def to_record(self) -> dict[str, str]:
        pem = self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption())
        return {"key": pem.decode(), "certificate": self.certificate_pem.decode()}

    @classmethod
    def from_record(cls, record: Mapping[str, str]) -> "Signer":
        return cls(cls.from_key_pem(record["key"].encode()).key, record["certificate"].encode())

    @classmethod
    def from_key_pem(cls, pem: bytes) -> "Signer":
        """A signer without its certificate (the signing process needs only the key)."""
        key = serialization.load_pem_private_key(pem, password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        return cls(key, b"")

    def sign(self, message: Mapping[str, Any], version: str) -> str:
        return self.sign_canonical(canonical_string(message), version)

    def sign_canonical(self, canonical: bytes, version: str) -> str:
        signature = self.key.sign(canonical, padding.PKCS1v15(), _HASHES[version]())
        return base64.b64encode(signature).decode()
