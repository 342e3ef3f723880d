"""ActiveMQ's advisory topics for the Java JMS client's own tools: a DestinationSource lists
the queues and topics other clients make, and consumer, producer and connection advisories
carry the ConsumerInfo, ProducerInfo, ConnectionInfo or RemoveInfo with their counts."""
from __future__ import annotations

from tests.conftest import BrokerProcess, unique
from tests.integration.jms import JmsPrograms


def url(broker: BrokerProcess) -> str:
    return f"tcp://127.0.0.1:{broker.openwire_port}"


def test_destination_source_lists_queues_and_topics_other_clients_make(shared_broker: BrokerProcess,
                                                                      jms: JmsPrograms) -> None:
    out = jms.run(url(shared_broker), "destinations", unique("adv"), program="AdvisoryScenarios")
    assert (out["early_queue"], out["late_queue"], out["topic"]) == ("true", "true", "true")


def test_consumer_producer_and_connection_advisories(shared_broker: BrokerProcess, jms: JmsPrograms) -> None:
    name = unique("adv")
    out = jms.run(url(shared_broker), "clients", name, program="AdvisoryScenarios")
    assert out["connection"] == f"ConnectionInfo:{name}-client"
    assert (out["consumer1"], out["consumer2"], out["removed"]) == (
        "ConsumerInfo,1", "ConsumerInfo,2", "RemoveInfo,1")
    assert (out["producer"], out["producer_removed"]) == ("ProducerInfo,1", "RemoveInfo,0")


def test_expired_and_dlqd_advisories_carry_the_message(shared_broker: BrokerProcess, jms: JmsPrograms) -> None:
    name = unique("adv")
    out = jms.run(url(shared_broker), "expired", name, program="AdvisoryScenarios")
    assert out["consumed"] == "null"
    pid = out["persistent_id"]
    # The message without its body, the advisory's JMSType and ActiveMQ's (sic) orignalMessageId.
    assert out["expired.p"] == f"{pid}|queue://{name}|p|null|Advisory|{pid}|localhost"
    assert out["expired.n"].split("|")[1:5] == [f"queue://{name}", "n", "null", "Advisory"]
    # Only the persistent one went to the DLQ (the DLQd advisory has no orignalMessageId).
    assert out["dlqd"] == f"{pid}|queue://{name}|p|null|Advisory|null|localhost"
    assert out["dlqd_more"] == "null"
    assert out["topic_consumed"] == "null"
    assert out["topic_expired"].split("|")[1:5] == [f"topic://{name}", "t", "null", "Advisory"]


def test_a_poisoned_message_is_advised_as_dlqd(shared_broker: BrokerProcess, jms: JmsPrograms) -> None:
    name = unique("adv")
    out = jms.run(url(shared_broker), "poisoned", name, program="AdvisoryScenarios")
    assert out["got"] == "text:poison"
    assert out["dlqd"] == f"{out['sent_id']}|queue://{name}|x|null|Advisory|null|localhost"
