"""SNS message signatures: AWS's canonical string, verified with the certificate alone."""
from __future__ import annotations

import base64
import datetime
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from twisted.internet import defer
from twisted.internet.error import ConnectionDone
from twisted.internet.task import Clock
from twisted.python.failure import Failure

from facades.sns.envelope import Publication, signed_later
from facades.sns.sign_process import frame, frames
from facades.sns.sign_worker import SigningWorker
from facades.sns.signing import Signer, canonical_string

NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer.generate(NOW)


def test_canonical_string_of_a_notification_follows_aws():
    message = {"Type": "Notification", "MessageId": "id", "TopicArn": "arn", "Message": "m",
               "Timestamp": "t", "SignatureVersion": "1", "UnsubscribeURL": "not signed"}
    assert canonical_string(message) == b"Message\nm\nMessageId\nid\nTimestamp\nt\nTopicArn\narn\nType\nNotification\n"
    assert canonical_string({**message, "Subject": "s"}) == (
        b"Message\nm\nMessageId\nid\nSubject\ns\nTimestamp\nt\nTopicArn\narn\nType\nNotification\n")


def test_canonical_string_of_a_confirmation_follows_aws():
    message = {"Type": "SubscriptionConfirmation", "MessageId": "id", "Token": "tok", "TopicArn": "arn",
               "Message": "m", "SubscribeURL": "url", "Timestamp": "t"}
    assert canonical_string(message) == (b"Message\nm\nMessageId\nid\nSubscribeURL\nurl\nTimestamp\nt\n"
                                         b"Token\ntok\nTopicArn\narn\nType\nSubscriptionConfirmation\n")


@pytest.mark.parametrize("version, digest", [("1", hashes.SHA1), ("2", hashes.SHA256)])
def test_signatures_verify_against_the_certificate(signer, version, digest):
    message = {"Type": "Notification", "MessageId": "id", "TopicArn": "arn", "Message": "ünïcode",
               "Timestamp": "t", "Subject": "s"}
    signature = base64.b64decode(signer.sign(message, version))
    public_key = x509.load_pem_x509_certificate(signer.certificate_pem).public_key()
    public_key.verify(signature, canonical_string(message), padding.PKCS1v15(), digest())


def test_the_key_survives_its_record(signer):
    again = Signer.from_record(signer.to_record())
    message = {"Type": "Notification", "MessageId": "id", "TopicArn": "arn", "Message": "m", "Timestamp": "t"}
    assert again.sign(message, "2") == signer.sign(message, "2")
    assert again.certificate_pem == signer.certificate_pem


def test_requests_to_the_signing_process_are_framed_and_split_back_whole():
    buffer = bytearray(frame(b"1abc") + frame(b"") + frame(b"2xyz")[:5])
    assert list(frames(buffer)) == [b"1abc", b""]
    buffer += frame(b"2xyz")[5:]
    assert list(frames(buffer)) == [b"2xyz"] and not buffer


def test_without_a_process_reactor_envelopes_are_signed_in_process(signer):
    publication = Publication(message_id="id", topic_arn="arn", message="m", timestamp_ms=0)
    body = publication.envelope("http", signer, "http://h:1", "arn:sub", signed=False)
    assert json.loads(body)["Signature"] == ""
    done = signed_later(body, SigningWorker(signer, Clock()))
    doc = json.loads(done.result)
    assert doc["Signature"] == signer.sign(doc, "1")
    assert list(doc) == list(json.loads(body))          # the fields keep AWS's order


def test_a_signing_process_that_ends_leaves_nothing_unsigned(signer):
    worker = SigningWorker(signer, Clock())
    waiting = defer.Deferred()
    worker._waiting.append((waiting, b"text", "2"))       # asked of a process that then died
    worker.ended(Failure(ConnectionDone()))
    assert waiting.result == signer.sign_canonical(b"text", "2")
