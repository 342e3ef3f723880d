"""What subscribers receive: a publication, and the JSON documents SNS sends about it.

Every delivery (an SQS envelope, an HTTP POST, the confirmation messages) carries the
fields AWS sends, signed over AWS's canonical string; the signature only covers fields
that are the same for every subscriber, so one publication is signed once per protocol
text however many subscriptions it reaches.
"""
from __future__ import annotations

import base64
import datetime
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from twisted.internet import defer

from facades.sns.sign_worker import SigningWorker
from facades.sns.signing import Signer, canonical_string

CERT_PATH = "/SimpleNotificationService-mqgate.pem"


def iso_timestamp(ms: int) -> str:
    """``2012-04-25T21:49:25.719Z``, as SNS writes times."""
    moment = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


@dataclass
class Publication:
    message_id: str
    topic_arn: str
    message: str
    timestamp_ms: int
    subject: str | None = None
    per_protocol: dict[str, str] | None = None
    attributes: dict[str, dict[str, Any]] = field(default_factory=dict)
    group_id: str | None = None
    dedup_id: str | None = None
    sequence_number: str | None = None
    signature_version: str = "1"
    _signed: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)

    def text_for(self, protocol: str) -> str:
        """The message for one protocol (MessageStructure=json), else the message."""
        if self.per_protocol is None:
            return self.message
        return self.per_protocol.get(protocol, self.per_protocol["default"])

    def envelope(self, protocol: str, signer: Signer, base_url: str, subscription_arn: str,
                 signed: bool = True) -> str:
        """The Notification JSON for one subscription; ``signed=False`` leaves ``Signature``
        empty (unless the publication was signed already) for :func:`signed_later`."""
        text = self.text_for(protocol)
        fields = self._signed.get(text)
        if fields is None:
            fields = {"Type": "Notification", "MessageId": self.message_id}
            if self.sequence_number is not None:
                fields["SequenceNumber"] = self.sequence_number
            fields["TopicArn"] = self.topic_arn
            if self.subject is not None:
                fields["Subject"] = self.subject
            fields["Message"] = text
            fields["Timestamp"] = iso_timestamp(self.timestamp_ms)
            fields["SignatureVersion"] = self.signature_version
            fields["Signature"] = ""
            self._signed[text] = fields
        if signed and not fields["Signature"]:
            fields["Signature"] = signer.sign(fields, self.signature_version)
        doc = {**fields, "SigningCertURL": base_url + CERT_PATH,
               "UnsubscribeURL": unsubscribe_url(base_url, subscription_arn)}
        if self.attributes:
            doc["MessageAttributes"] = envelope_attributes(self.attributes)
        return json.dumps(doc, ensure_ascii=False)

    def is_signed(self, protocol: str) -> bool:
        fields = self._signed.get(self.text_for(protocol))
        return fields is not None and bool(fields["Signature"])


def signed_later(body: str, worker: SigningWorker) -> defer.Deferred[str]:
    """The envelope ``body`` with its signature, made by the signing process."""
    doc = json.loads(body)

    def done(signature: str) -> str:
        doc["Signature"] = signature
        return json.dumps(doc, ensure_ascii=False)
    return worker.sign(canonical_string(doc), doc["SignatureVersion"]).addCallback(done)


def envelope_attributes(attributes: dict[str, dict[str, Any]]) -> dict[str, dict[str, str]]:
    out = {}
    for name, value in attributes.items():
        if "BinaryValue" in value:
            out[name] = {"Type": value["DataType"], "Value": base64.b64encode(bytes(value["BinaryValue"])).decode()}
        else:
            out[name] = {"Type": value["DataType"], "Value": value.get("StringValue", "")}
    return out


def unsubscribe_url(base_url: str, subscription_arn: str) -> str:
    return f"{base_url}/?Action=Unsubscribe&SubscriptionArn={quote(subscription_arn, safe='')}"


def subscribe_url(base_url: str, topic_arn: str, token: str) -> str:
    return f"{base_url}/?Action=ConfirmSubscription&TopicArn={quote(topic_arn, safe='')}&Token={token}"


def confirmation(kind: str, message_id: str, topic_arn: str, token: str, now_ms: int, base_url: str,
                 signer: Signer, version: str) -> str:
    """A SubscriptionConfirmation or UnsubscribeConfirmation document."""
    if kind == "SubscriptionConfirmation":
        text = (f"You have chosen to subscribe to the topic {topic_arn}.\n"
                "To confirm the subscription, visit the SubscribeURL included in this message.")
    else:
        text = (f"You have chosen to deactivate subscription {topic_arn}.\n"
                "To cancel this operation and restore the subscription, visit the SubscribeURL "
                "included in this message.")
    doc: dict[str, Any] = {"Type": kind, "MessageId": message_id, "Token": token, "TopicArn": topic_arn,
                           "Message": text, "SubscribeURL": subscribe_url(base_url, topic_arn, token),
                           "Timestamp": iso_timestamp(now_ms), "SignatureVersion": version}
    doc["Signature"] = signer.sign(doc, version)
    doc["SigningCertURL"] = base_url + CERT_PATH
    return json.dumps(doc, ensure_ascii=False)
