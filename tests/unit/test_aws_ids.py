"""Request and message ids: version 4 UUIDs spelled as `str(uuid.uuid4())` spells them."""
from __future__ import annotations

import uuid

from facades.aws.ids import random_uuid


def test_ids_are_version_4_rfc_4122_uuids_in_their_canonical_spelling() -> None:
    for _ in range(1000):
        text = random_uuid()
        parsed = uuid.UUID(text)
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
        assert str(parsed) == text


def test_ids_do_not_repeat_across_refills_of_the_random_pool() -> None:
    ids = [random_uuid() for _ in range(3 * 4096 // 16 + 7)]
    assert len(set(ids)) == len(ids)
