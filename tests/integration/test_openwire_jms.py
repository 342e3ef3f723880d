"""ActiveMQ's own JMS client (activemq-client 5.17) against the OpenWire door, unchanged:
default `tcp://` URLs, every JMS semantic an application relies on."""
from __future__ import annotations

import pytest

from tests.conftest import BrokerProcess, unique
from tests.integration.jms import JmsPrograms

PROPS = ("{pBool=Boolean:true, pByte=Byte:7, pDouble=Double:3.25, pFloat=Float:1.5, pInt=Integer:42, "
         "pLong=Long:1234567890123, pShort=Short:300, pString=String:h\u00e9llo}")


def url(broker: BrokerProcess) -> str:
    return f"tcp://127.0.0.1:{broker.openwire_port}"


@pytest.mark.parametrize("options", ["", "?jms.useCompression=true"])
def test_every_message_type_and_typed_property_round_trips(shared_broker: BrokerProcess, jms: JmsPrograms,
                                                           options: str) -> None:
    out = jms.run(url(shared_broker) + options, "types", unique())
    # 4-byte UTF-8 and U+0000 survive in a TextMessage.
    assert out["body0"] == "text:hello JMS \u00e9\u00fc\u4e2d \u2713 \U0001F600 nul\u0000 end"
    assert out["body1"] == "bytes:AAEC/wA="
    assert out["body2"] == ("map:{a=Boolean:true, b=Byte:1, c=Character:c, d=Short:2, e=Integer:3, f=Long:4, "
                            "g=Double:2.5, h=Float:1.5, i=String:s, j=byte[]:CQg=}")
    assert out["body3"] == "stream:[Boolean:true, Integer:3, String:s, Double:2.5]"
    assert out["body4"] == "message"
    for i in range(5):
        assert out[f"props{i}"] == PROPS
        # correlation id, type, delivery mode (2 persistent, 1 not), redelivered, delivery count, same id
        mode = 2 if i % 2 == 0 else 1
        assert out[f"headers{i}"] == f"corr-{i},type-{i},{mode},false,1,true"
    assert out["extra"] == "null"


def test_topic_fans_out_to_present_subscribers_only(shared_broker: BrokerProcess, jms: JmsPrograms) -> None:
    out = jms.run(url(shared_broker), "topic", unique("t"))
    assert out["got"] == "text:m0;text:m1;text:m2;|text:m0;text:m1;text:m2;|"
    assert out["late"] == "null"


def test_ack_modes_and_redelivery(shared_broker: BrokerProcess, jms: JmsPrograms) -> None:
    out = jms.run(url(shared_broker), "acks", unique())
    assert out["client_first"] == "text:m0,false"
    assert out["client_second"] == "text:m1"
    # Closed without acking: back with JMSRedelivered and JMSXDeliveryCount 2.
    assert out["redelivered"] == "text:m0,true,2"
    # Only prefetched by the closed consumer, never seen: not flagged as redelivered.
    assert out["individual"] == "text:m2,false,text:m3"
    # Only m3 was acked individually: m2 came back; dups-ok consumed it.
    assert out["dups_ok"] == "text:m2,null"
    assert out["left"] == "null"


def test_transacted_sessions(shared_broker: BrokerProcess, jms: JmsPrograms) -> None:
    out = jms.run(url(shared_broker), "transactions", unique())
    assert out["visible_before_commit"] == "0"
    assert out["received"] == "text:a,text:b"
    assert out["after_rollback"] == "text:a,true,2,text:b"
    assert out["left"] == "null"


def test_durable_subscriber_keeps_messages_while_away(shared_broker: BrokerProcess, jms: JmsPrograms) -> None:
    out = jms.run(url(shared_broker), "durable", unique("d"))
    assert out["online"] == "text:online"
    assert out["offline"] == "text:offline"
    assert out["unsubscribe_again"] == "javax.jms.InvalidDestinationException"


def test_selectors(shared_broker: BrokerProcess, jms: JmsPrograms) -> None:
    out = jms.run(url(shared_broker), "selectors", unique())
    assert out["selected"] == "text:m4,null"
    assert out["by_type"] == "text:m0,text:m1,text:m2,null"
    assert out["invalid"] == "InvalidSelectorException"


def test_temporary_destinations_request_reply(shared_broker: BrokerProcess, jms: JmsPrograms) -> None:
    out = jms.run(url(shared_broker), "temp", unique())
    assert out["request"] == "text:ping,true"
    assert out["reply"] == "text:pong,req-1"
    assert out["temp_topic"] == "text:temp-topic"
    assert out["send_deleted"] == "InvalidDestinationException"


def test_queue_browser(shared_broker: BrokerProcess, jms: JmsPrograms) -> None:
    out = jms.run(url(shared_broker), "browse", unique())
    assert out["empty"] == "0"
    assert out["browsed"] == "text:m0;text:m1;text:m2;text:m3;text:m4;"
    assert out["selected"] == "2"
    assert out["consumed"] == "5"


def test_expired_messages_are_not_delivered(shared_broker: BrokerProcess, jms: JmsPrograms) -> None:
    out = jms.run(url(shared_broker), "expiry", unique())
    assert out["first"] == "text:long"
    assert out["second"] == "null"
    assert out["prefetched"] == "null"


def test_priority_order(shared_broker: BrokerProcess, jms: JmsPrograms) -> None:
    out = jms.run(url(shared_broker), "priority", unique())
    assert out["order"] == "m1p9,9;m3p9,9;m5p7,7;m2p4,4;m0p1,1;m4p0,0;"


def test_message_groups_stick_to_one_consumer(shared_broker: BrokerProcess, jms: JmsPrograms) -> None:
    out = jms.run(url(shared_broker), "groups", unique())
    assert out["groups"] in ("{a=[even], b=[odd]}", "{a=[odd], b=[even]}")


def test_exclusive_consumer(shared_broker: BrokerProcess, jms: JmsPrograms) -> None:
    out = jms.run(url(shared_broker), "exclusive", unique())
    assert out["exclusive"] == "4,0"


def test_prefetch_zero_pulls(shared_broker: BrokerProcess, jms: JmsPrograms) -> None:
    out = jms.run(url(shared_broker), "pull", unique())
    assert out["a"] == "text:m0"
    assert out["b"] == "text:m1"
    assert out["timeout"] == "null,true"
    assert out["nowait"] == "null"
    assert out["late"] == "text:late"


def test_duplicate_client_id_is_refused(shared_broker: BrokerProcess, jms: JmsPrograms) -> None:
    name = unique("cid")
    out = jms.run(url(shared_broker), "clientid", name)
    assert out["second"].startswith(f"InvalidClientIDException: Broker: localhost - Client: {name} already connected from tcp://127.0.0.1:")
    assert out["after_close"] == "accepted"


def test_object_message_is_refused_clearly(shared_broker: BrokerProcess, jms: JmsPrograms) -> None:
    out = jms.run(url(shared_broker), "object", unique())
    assert out["object"].startswith("javax.jms.JMSException: ObjectMessage is not supported")
    assert out["after"] == "text:after"


def test_scheduled_delivery(shared_broker: BrokerProcess, jms: JmsPrograms) -> None:
    out = jms.run(url(shared_broker), "scheduled", unique())
    assert out["early"] == "null"
    assert out["later"] == "text:later"
    assert out["job"] not in ("null", "")
    assert out["schedule"] == "null|null|null|null|yes", "ActiveMQ takes the schedule out of deliveries"
    assert out["again"] == "text:later|null|null|null|null|yes"
    assert out["forwarded"] == "text:later"
    assert out["resent"] == "text:resent|60000"


@pytest.mark.parametrize("mode", ["sync", "async", "nonpersistent", "windowed"])
def test_throughput_scenario_delivers_everything(shared_broker: BrokerProcess, jms: JmsPrograms, mode: str) -> None:
    # The benchmark's scenario (bench.jms_load), small, after its warm-up round of 100 (the
    # program fails if that round loses any): every message sent arrives; with a producer
    # window (64 KiB, far less than the 300 KiB sent) only if ProducerAcks come back.
    out = jms.run(url(shared_broker), "throughput", unique(), "300", "1024", mode, "100")
    assert out["sent"] == out["received"] == "300"


def test_client_poison_ack_moves_the_message_to_the_dlq(shared_broker: BrokerProcess, jms: JmsPrograms) -> None:
    options = "?jms.redeliveryPolicy.maximumRedeliveries=2&jms.redeliveryPolicy.initialRedeliveryDelay=0"
    out = jms.run(url(shared_broker) + options, "poison", unique())
    assert out["deliveries"] == "3"           # the first delivery and two redeliveries
    assert out["dead"] == "text:poisoned"
    # The client's own cause, as ActiveMQ records it.
    assert out["cause"].startswith("java.lang.Throwable: Delivery[3] exceeds redelivery policy limit")
