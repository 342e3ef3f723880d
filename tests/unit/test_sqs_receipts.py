"""Receipt handles: the spelling clients hold (also across a broker upgrade) and its refusals."""
from __future__ import annotations

import base64

import pytest
from hypothesis import given, strategies as st

from facades.aws.errors import AwsError
from facades.sqs import receipts

names = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=80)
numbers = st.integers(min_value=0, max_value=2**63)


@given(names, numbers, numbers)
def test_handles_are_urlsafe_base64_without_padding_and_read_back(queue, seq, token):
    handle = receipts.encode(queue, seq, token)
    raw = f"mqg1\n{seq}\n{token}\n{queue}".encode()
    assert handle == base64.urlsafe_b64encode(raw).decode().rstrip("=")
    assert receipts.decode(handle) == (queue, seq, token)


@pytest.mark.parametrize("handle", ["", "not a handle", "bXFnMQ", "é" * 8,
                                    base64.urlsafe_b64encode(b"mqg2\n1\n2\nq").decode(),
                                    base64.urlsafe_b64encode(b"mqg1\nx\n2\nq").decode(),
                                    base64.urlsafe_b64encode(b"\xff\xfe\n1\n2\nq").decode()])
def test_anything_else_is_an_invalid_handle(handle):
    with pytest.raises(AwsError) as caught:
        receipts.decode(handle)
    assert caught.value.code == "ReceiptHandleIsInvalid"


@given(names, numbers, numbers, st.integers(min_value=0, max_value=3))
def test_a_handle_reads_back_with_padding_added(queue, seq, token, pads):
    # Some clients (or their URL handling) give base64 text back padded: it is the same handle.
    handle = receipts.encode(queue, seq, token)
    assert receipts.decode(handle + "=" * pads) == (queue, seq, token)
