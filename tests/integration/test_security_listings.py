"""ListQueues, ListDeadLetterSourceQueues, ListTopics and ListSubscriptions under an
authorization map: destinations the caller may not use are left out before the listing
is cut into pages, so every page but the last is full and boto3's paginators see each
visible destination exactly once."""
from __future__ import annotations

from typing import Iterator

import boto3
import pytest

from tests.conftest import BrokerProcess
from tests.integration.security_support import USERS, config_text, module_broker
from tests.integration.sqs_clients import REGION, client_config, make_client
from tests.integration.stomp_client import RawStomp

TOPICS = 260            # the visible half is more than one ListTopics page (100)
VISIBLE_TOPICS = [f"shown{i:03d}" for i in range(0, TOPICS, 2)]
MAP = [
    {"queue": "*.*.pub", "read": ["*"], "write": ["*"], "admin": ["admins"]},
    {"queue": ">", "read": ["admins"], "write": ["admins"], "admin": ["admins"]},
    {"topic": ">", "read": ["admins"], "write": ["admins"], "admin": ["admins"]},
    *({"topic": name, "read": ["*"], "write": ["*"], "admin": ["admins"]} for name in VISIBLE_TOPICS),
]


def _make_destinations(broker: BrokerProcess) -> None:
    """As `admin` over STOMP: queues lst.NN.pub / lst.NN.priv (interleaved in name order)
    and topics shownNNN / hiddenNNN."""
    with RawStomp(broker.stomp_port) as c:
        c.connect("1.2", login="admin", passcode=USERS["admin"][0])
        for i in range(10):
            for kind in ("pub", "priv"):
                assert c.roundtrip("SEND", {"destination": f"/queue/lst.{i:02d}.{kind}"}, "x").command == "RECEIPT"
        for i in range(TOPICS):
            name = f"shown{i:03d}" if i % 2 == 0 else f"hidden{i:03d}"
            assert c.roundtrip("SEND", {"destination": f"/topic/{name}"}, "x").command == "RECEIPT"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def listed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    for proc in module_broker(request, tmp_path_factory, config_text(authorization=MAP)):
        _make_destinations(proc)
        yield proc


def sqs(broker: BrokerProcess, user: str):
    _, key, secret = USERS[user]
    return make_client("json", broker.aws_url, key, secret)


def sns(broker: BrokerProcess, user: str):
    _, key, secret = USERS[user]
    return boto3.client("sns", endpoint_url=broker.aws_url, region_name=REGION, aws_access_key_id=key,
                        aws_secret_access_key=secret, config=client_config())


def test_list_queues_pages_are_full_of_visible_queues(listed):
    pages = list(sqs(listed, "reader").get_paginator("list_queues").paginate(
        QueueNamePrefix="lst.", PaginationConfig={"PageSize": 3}))
    names = [[u.rsplit("/", 1)[-1] for u in p.get("QueueUrls", [])] for p in pages]
    assert [len(p) for p in names] == [3, 3, 3, 1]
    assert sum(names, []) == [f"lst.{i:02d}.pub" for i in range(10)]
    everything = sqs(listed, "admin").list_queues(QueueNamePrefix="lst.")["QueueUrls"]
    assert len(everything) == 20


def test_list_topics_pages_are_full_of_visible_topics(listed):
    pages = list(sns(listed, "reader").get_paginator("list_topics").paginate())
    names = [[t["TopicArn"].rsplit(":", 1)[-1] for t in p["Topics"]] for p in pages]
    assert [len(p) for p in names] == [100, 30] and sum(names, []) == VISIBLE_TOPICS
    admin_pages = list(sns(listed, "admin").get_paginator("list_topics").paginate())
    assert sum(len(p["Topics"]) for p in admin_pages) == TOPICS
