"""The SQS body a receive reports: the fast paths agree with the full check."""
from __future__ import annotations

import hashlib

from hypothesis import given, strategies as st

from broker.engine.message import Message
from facades.sqs import convert
from facades.sqs.validation import INVALID_CHARACTER

_BODIES = st.binary(max_size=48) | st.text(max_size=24).map(lambda t: t.encode("utf-8", "surrogatepass"))


def _reported(body: bytes) -> str:
    """The general rule: the body as UTF-8, each character SQS cannot carry as U+FFFD."""
    return INVALID_CHARACTER.sub("\ufffd", body.decode("utf-8", errors="replace"))


@given(_BODIES)
def test_a_body_reads_as_the_general_rule_says_every_time(body: bytes) -> None:
    """The first receive checks the body; a later one, vouched for by the digest the first
    kept, reports the same text and digest."""
    message = Message("id", body)
    expected = _reported(body)
    digest = hashlib.md5(expected.encode("utf-8")).hexdigest()
    assert convert.body_and_digest(message) == (expected, digest)
    assert convert.body_and_digest(message) == (expected, digest)
    # Only a body SQS carries as it is is vouched for.
    assert (message.body_digest is not None) == (expected.encode("utf-8") == body)


@given(st.text(max_size=24))
def test_a_body_sent_through_sqs_reads_back_unchanged(text: str) -> None:
    if not text or INVALID_CHARACTER.search(text):
        return
    message = convert.to_engine({"MessageBody": text}, "sender", 0, False, False)
    assert convert.body_and_digest(message) == (text, hashlib.md5(text.encode("utf-8")).hexdigest())
