"""AMQ_SCHEDULED_CRON as a JMS String property: an entry that never fires fails the send, a
good one is held for its cron time (the firing itself is tested on a
fake clock in tests/unit/test_activemq_cron.py and over STOMP in test_stomp_delivery.py)."""
from __future__ import annotations

from tests.conftest import BrokerProcess, unique
from tests.integration.jms import JmsPrograms


def test_a_jms_cron_entry_is_checked_and_held_for_its_time(shared_broker: BrokerProcess, jms: JmsPrograms) -> None:
    url = f"tcp://127.0.0.1:{shared_broker.openwire_port}"
    # Valid for the client's CronParser, but a date that never comes: the broker refuses it.
    bad = jms.run(url, "cron", unique(), "0 0 31 2 *", program="PolicyScenarios")
    assert bad["sent"].startswith("javax.jms.JMSException: Invalid AMQ_SCHEDULED_CRON header: 0 0 31 2 *")
    good = jms.run(url, "cron", unique(), "0 0 1 1 *", program="PolicyScenarios")
    assert (good["sent"], good["at_once"]) == ("yes", "null")
