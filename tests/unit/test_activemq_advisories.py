"""Advisory messages from the engine's events and the doors' reports, and the data
structures a JMS client gets for them: destinations, consumers (temporary ones under
ActiveMQ's `TempQueue` names), counts, and the replay a new subscriber gets first."""
from __future__ import annotations

from broker.protocols.activemq import advisories as a
from broker.protocols.activemq import destinations as dest
from broker.protocols.openwire import schema as s
from broker.protocols.openwire.advisory_info import data_structure
from tests.unit.engine_support import Recorder, make_broker


def test_queue_advisories_are_published_only_when_watched_and_replayed_to_newcomers() -> None:
    b = make_broker()
    a.install(b, "unit")
    b.queue("before")
    assert "ActiveMQ.Advisory.Queue" not in b.topics       # nobody watched: nothing was built
    watcher = Recorder()
    sub = b.subscribe_topic(a.QUEUE_TOPIC, watcher)
    a.replay(b, a.QUEUE_TOPIC, sub.queue, "unit")
    b.queue("after")
    b.delete_queue("after")
    infos = [data_structure(m.headers) for m, _ in watcher.got]
    assert [(i.destination.physical_name, i.operation_type) for i in infos] == [
        ("before", 0), ("after", 0), ("after", 1)]
    assert {i.destination.type for i in infos} == {s.QUEUE}


def test_consumers_of_a_temporary_queue_are_advised_under_its_temp_queue_name() -> None:
    b = make_broker()
    name = "ID:host-1:1:1"
    d = dest.Destination(dest.TEMP_QUEUE, name)
    watcher = Recorder()
    b.subscribe_topic(f"ActiveMQ.Advisory.Consumer.TempQueue.{name}", watcher)
    a.consumer_changed(b, a.kind_of(d), name, "ID:c-1:1:2:3", True, "ID:c-1:1", "unit", "x = 1", 10)
    a.consumer_changed(b, a.kind_of(d), name, "ID:c-1:1:2:3", False, "ID:c-1:1", "unit")
    (added, _), (removed, _) = watcher.got
    assert (added.properties["consumerCount"], added.types) == ("1", {"consumerCount": "int"})
    info = data_structure(added.headers)
    assert (info.type, info.destination.type, info.destination.physical_name) == (s.CONSUMER_INFO, s.TEMP_QUEUE, name)
    assert (info.consumer_id.connection_id, info.consumer_id.session_id, info.consumer_id.value) == ("ID:c-1:1", 2, 3)
    assert (info.selector, info.prefetch_size) == ("x = 1", 10)
    gone = data_structure(removed.headers)
    assert (gone.type, gone.object_id.value, removed.properties["consumerCount"]) == (s.REMOVE_INFO, 3, "0")
