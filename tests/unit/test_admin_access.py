"""Reading the admin door's Basic credentials and spotting cross-site requests."""
from __future__ import annotations

import base64

import pytest
from twisted.web.test.requesthelper import DummyRequest

from broker.admin.access import Refused, basic_credentials, cross_origin


def basic(text: str) -> bytes:
    return b"Basic " + base64.b64encode(text.encode())


def test_basic_credentials():
    assert basic_credentials(None) is None
    assert basic_credentials(basic("admin:pa:ss")) == ("admin", "pa:ss")     # the password may hold colons
    for bad in (b"Bearer abc", b"Basic !!!", basic("no-colon")):
        with pytest.raises(Refused) as err:
            basic_credentials(bad)
        assert err.value.status == 401


@pytest.mark.parametrize("origin, host, refused", [
    (None, b"broker:18080", False),
    (b"http://broker:18080", b"broker:18080", False),
    (b"http://elsewhere.example", b"broker:18080", True),
    (b"null", b"broker:18080", True),
])
def test_cross_origin(origin, host, refused):
    request = DummyRequest([b"metrics"])
    request.requestHeaders.setRawHeaders(b"host", [host])
    if origin is not None:
        request.requestHeaders.setRawHeaders(b"origin", [origin])
    assert cross_origin(request) is refused
