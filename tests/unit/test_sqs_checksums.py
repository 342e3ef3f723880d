"""MD5 digests against vectors published with other SQS implementations.

Sources: moto's SQS tests (digests pinned as what AWS returned), an npm
``message-attributes-md5-checksum`` package's tests, sqslite's Go tests and
an SDK-v3 based SQS emulator's tests (which also pin system-attribute
digests). Independent implementations agreeing is the evidence the
encoding is AWS's.
"""

from __future__ import annotations

import struct
import hashlib

import pytest

from facades.sqs.checksums import md5_of_body, md5_of_message_attributes, md5_of_message_system_attributes


def string(value: str) -> dict:
    return {"DataType": "String", "StringValue": value}


def number(value: str) -> dict:
    return {"DataType": "Number", "StringValue": value}


@pytest.mark.parametrize(
    ("body", "digest"),
    [
        ("derp", "58fd9edd83341c29f1aebba81c31e257"),
        ("Test Message", "d1d4180b7e411c4be86b00fb2ee103eb"),
        ("some message", "df49b60423903e095b80d9b4a92eb065"),
        ("false", "68934a3e9455fa72420237eb05902327"),
    ],
)
def test_body(body: str, digest: str) -> None:
    assert md5_of_body(body) == digest


@pytest.mark.parametrize(
    ("attributes", "digest"),
    [
        ({"timestamp": number("1493147359900")}, "235c5c510d26fb653d073faed50ae77c"),
        ({"timestamp": number("1493147359901")}, "994258b45346a2cc3f9cbb611aa7af30"),
        ({"SOME_Valid.attribute-Name": number("1493147359900")}, "36655e7e9d7c0e8479fa3f3f42247ae7"),
        (
            {
                "ccc": string("testjunk"),
                "aaa": {"DataType": "Binary", "BinaryValue": b"\x02\x03\x04"},
                "zzz": number("0230.01"),
                "öther_encodings": string("Tüst"),
            },
            "8ae21a7957029ef04146b42aeaa18a22",
        ),
        ({"SellerName": string("Example Store")}, "cd28f3b68aeee4b2eac9c66f2f694b58"),
        (
            {
                "City": string("Any City"),
                "PostalCode": string("99065"),
                "PricePerGallon": number("1.99"),
                "Region": string("WA"),
                "SellerName": string("Example Store"),
            },
            "10809b55e3d9b22c17220b7dbaf283ef",
        ),
        ({"ordinal": number("1"), "category": string("test")}, "d21ae90c49061e927f57df5f5d72be1f"),
        ({"Hello": string("World")}, "7db7fb1ba7f41366a8ea5eb18220b26d"),
        ({"UserId": {"DataType": "Number.bigint", "StringValue": "1234567890123456789012"}}, "797ab158d73dcb5242dedc4412c8e855"),
        ({"data1": number("1"), "data2": number("2")}, "b53b5acf24e7fd9567705bd8027b1c76"),
        (
            {
                "Dummy1Name": string("dummy 1 value"),
                "Dummy2Name": string("dummy 2 value"),
                "Dummy3Name": {"DataType": "Binary", "BinaryValue": b"dummy 2 value"},
            },
            "c5c0d2c6f195fcbc91083c5465d8955f",
        ),
    ],
)
def test_message_attributes(attributes: dict, digest: str) -> None:
    assert md5_of_message_attributes(attributes) == digest


@pytest.mark.parametrize(
    ("value", "digest"),
    [("some-trace-id", "fdce4f2818803f2f73becc09a54792c0"), ("some-value", "a3263a0cbc09023ccd431feb61438309")],
)
def test_system_attributes(value: str, digest: str) -> None:
    assert md5_of_message_system_attributes({"AWSTraceHeader": string(value)}) == digest


def test_no_attributes_no_digest() -> None:
    assert md5_of_message_attributes({}) is None
    assert md5_of_message_attributes(None) is None


def test_names_sort_as_java_strings() -> None:
    """UTF-16 order puts U+FF5E after U+1F600 (a surrogate pair); code
    point order would not."""
    attributes = {"\uff5e": string("a"), "\U0001f600": string("b")}

    def encode(name: str, value: str) -> bytes:
        fields = [name.encode(), b"String"]
        out = b"".join(struct.pack(">I", len(f)) + f for f in fields)
        return out + b"\x01" + struct.pack(">I", len(value.encode())) + value.encode()

    expected = hashlib.md5(encode("\U0001f600", "b") + encode("\uff5e", "a")).hexdigest()
    assert md5_of_message_attributes(attributes) == expected
