"""The OpenWire types mqgate reads and writes: field order per type, loose encoding.

Each type lists its fields parents first (BaseCommand, then Message, then its own) with
the first protocol version that carries them, so one table serves versions 1 to 12. Only
the types a JMS client and broker exchange are here: a type code outside this table is
refused, and a nested object must be one of the codes its field allows, so nothing on the
wire can name something else to build.
"""
from __future__ import annotations

from typing import NamedTuple

# Field encodings.
BOOL, BYTE, INT, LONG, STRING, BYTES, OBJECT, ARRAY, THROWABLE, MAGIC = range(10)

WIRE_FORMAT_INFO = 1
BROKER_INFO = 2
CONNECTION_INFO = 3
SESSION_INFO = 4
CONSUMER_INFO = 5
PRODUCER_INFO = 6
TRANSACTION_INFO = 7
DESTINATION_INFO = 8
REMOVE_SUBSCRIPTION_INFO = 9
KEEP_ALIVE_INFO = 10
SHUTDOWN_INFO = 11
REMOVE_INFO = 12
CONTROL_COMMAND = 14
FLUSH_COMMAND = 15
CONNECTION_ERROR = 16
CONSUMER_CONTROL = 17
CONNECTION_CONTROL = 18
PRODUCER_ACK = 19
MESSAGE_PULL = 20
MESSAGE_DISPATCH = 21
MESSAGE_ACK = 22
MESSAGE = 23
BYTES_MESSAGE = 24
MAP_MESSAGE = 25
OBJECT_MESSAGE = 26
STREAM_MESSAGE = 27
TEXT_MESSAGE = 28
BLOB_MESSAGE = 29
RESPONSE = 30
EXCEPTION_RESPONSE = 31
DATA_RESPONSE = 32
DATA_ARRAY_RESPONSE = 33
INTEGER_RESPONSE = 34
QUEUE = 100
TOPIC = 101
TEMP_QUEUE = 102
TEMP_TOPIC = 103
MESSAGE_ID = 110
LOCAL_TRANSACTION_ID = 111
XA_TRANSACTION_ID = 112
CONNECTION_ID = 120
SESSION_ID = 121
CONSUMER_ID = 122
PRODUCER_ID = 123
BROKER_ID = 124

MESSAGE_TYPES = frozenset(range(MESSAGE, BLOB_MESSAGE + 1))
DESTINATIONS = frozenset({QUEUE, TOPIC, TEMP_QUEUE, TEMP_TOPIC})
TRANSACTION_IDS = frozenset({LOCAL_TRANSACTION_ID, XA_TRANSACTION_ID})
OBJECT_IDS = frozenset({CONNECTION_ID, SESSION_ID, CONSUMER_ID, PRODUCER_ID})


class Field(NamedTuple):
    name: str
    kind: int
    since: int = 1
    allowed: frozenset[int] = frozenset()   # type codes a nested object or array item may have


def _obj(name: str, *codes: int | frozenset[int], since: int = 1) -> Field:
    allowed: set[int] = set()
    for code in codes:
        allowed |= code if isinstance(code, frozenset) else {code}
    return Field(name, OBJECT, since, frozenset(allowed))


def _arr(name: str, *codes: int, since: int = 1) -> Field:
    return Field(name, ARRAY, since, frozenset(codes))


_COMMAND = [Field("command_id", INT), Field("response_required", BOOL)]

_MESSAGE = _COMMAND + [
    _obj("producer_id", PRODUCER_ID), _obj("destination", DESTINATIONS),
    _obj("transaction_id", TRANSACTION_IDS), _obj("original_destination", DESTINATIONS),
    _obj("message_id", MESSAGE_ID), _obj("original_transaction_id", TRANSACTION_IDS),
    Field("group_id", STRING), Field("group_sequence", INT), Field("correlation_id", STRING),
    Field("persistent", BOOL), Field("expiration", LONG), Field("priority", BYTE),
    _obj("reply_to", DESTINATIONS), Field("timestamp", LONG), Field("type", STRING),
    Field("content", BYTES), Field("marshalled_properties", BYTES),
    # Advisory messages carry the DestinationInfo (or another command) they are about.
    _obj("data_structure", DESTINATION_INFO, CONNECTION_INFO, CONSUMER_INFO, PRODUCER_INFO,
         REMOVE_INFO, SESSION_INFO),
    _obj("target_consumer_id", CONSUMER_ID), Field("compressed", BOOL),
    Field("redelivery_counter", INT), _arr("broker_path", BROKER_ID), Field("arrival", LONG),
    Field("user_id", STRING), Field("recieved_by_df_bridge", BOOL), Field("droppable", BOOL, 2),
    _arr("cluster", BROKER_ID, since=3), Field("broker_in_time", LONG, 3),
    Field("broker_out_time", LONG, 3), Field("jmsx_group_first_for_consumer", BOOL, 10),
]


class TypeSpec(NamedTuple):
    name: str
    fields: list[Field]


SCHEMA: dict[int, TypeSpec] = {
    WIRE_FORMAT_INFO: TypeSpec("WireFormatInfo", [
        Field("magic", MAGIC), Field("version", INT), Field("marshalled_properties", BYTES)]),
    BROKER_INFO: TypeSpec("BrokerInfo", _COMMAND + [
        _obj("broker_id", BROKER_ID), Field("broker_url", STRING),
        _arr("peer_broker_infos", BROKER_INFO), Field("broker_name", STRING),
        Field("slave_broker", BOOL), Field("master_broker", BOOL),
        Field("fault_tolerant_configuration", BOOL), Field("duplex_connection", BOOL, 2),
        Field("network_connection", BOOL, 2), Field("connection_id", LONG, 2),
        Field("broker_upload_url", STRING, 3), Field("network_properties", STRING, 3)]),
    CONNECTION_INFO: TypeSpec("ConnectionInfo", _COMMAND + [
        _obj("connection_id", CONNECTION_ID), Field("client_id", STRING),
        Field("password", STRING), Field("user_name", STRING), _arr("broker_path", BROKER_ID),
        Field("broker_master_connector", BOOL), Field("manageable", BOOL),
        Field("client_master", BOOL, 2), Field("fault_tolerant", BOOL, 6),
        Field("failover_reconnect", BOOL, 6), Field("client_ip", STRING, 8)]),
    SESSION_INFO: TypeSpec("SessionInfo", _COMMAND + [_obj("session_id", SESSION_ID)]),
    CONSUMER_INFO: TypeSpec("ConsumerInfo", _COMMAND + [
        _obj("consumer_id", CONSUMER_ID), Field("browser", BOOL),
        _obj("destination", DESTINATIONS), Field("prefetch_size", INT),
        Field("maximum_pending_message_limit", INT), Field("dispatch_async", BOOL),
        Field("selector", STRING), Field("client_id", STRING, 10),
        Field("subscription_name", STRING), Field("no_local", BOOL), Field("exclusive", BOOL),
        Field("retroactive", BOOL), Field("priority", BYTE), _arr("broker_path", BROKER_ID),
        # A broker-side filter class in ActiveMQ: never accepted from a client.
        _obj("additional_predicate"), Field("network_subscription", BOOL),
        Field("optimized_acknowledge", BOOL), Field("no_range_acks", BOOL),
        _arr("network_consumer_path", CONSUMER_ID, since=4)]),
    PRODUCER_INFO: TypeSpec("ProducerInfo", _COMMAND + [
        _obj("producer_id", PRODUCER_ID), _obj("destination", DESTINATIONS),
        _arr("broker_path", BROKER_ID), Field("dispatch_async", BOOL, 2),
        Field("window_size", INT, 3)]),
    TRANSACTION_INFO: TypeSpec("TransactionInfo", _COMMAND + [
        _obj("connection_id", CONNECTION_ID), _obj("transaction_id", TRANSACTION_IDS),
        Field("type", BYTE)]),
    DESTINATION_INFO: TypeSpec("DestinationInfo", _COMMAND + [
        _obj("connection_id", CONNECTION_ID), _obj("destination", DESTINATIONS),
        Field("operation_type", BYTE), Field("timeout", LONG), _arr("broker_path", BROKER_ID)]),
    REMOVE_SUBSCRIPTION_INFO: TypeSpec("RemoveSubscriptionInfo", _COMMAND + [
        _obj("connection_id", CONNECTION_ID), Field("subscription_name", STRING),
        Field("client_id", STRING)]),
    KEEP_ALIVE_INFO: TypeSpec("KeepAliveInfo", list(_COMMAND)),
    SHUTDOWN_INFO: TypeSpec("ShutdownInfo", list(_COMMAND)),
    REMOVE_INFO: TypeSpec("RemoveInfo", _COMMAND + [
        _obj("object_id", OBJECT_IDS), Field("last_delivered_sequence_id", LONG, 5)]),
    CONTROL_COMMAND: TypeSpec("ControlCommand", _COMMAND + [Field("command", STRING)]),
    FLUSH_COMMAND: TypeSpec("FlushCommand", list(_COMMAND)),
    CONNECTION_ERROR: TypeSpec("ConnectionError", _COMMAND + [
        Field("exception", THROWABLE), _obj("connection_id", CONNECTION_ID)]),
    CONSUMER_CONTROL: TypeSpec("ConsumerControl", _COMMAND + [
        _obj("destination", DESTINATIONS, since=6), Field("close", BOOL),
        _obj("consumer_id", CONSUMER_ID), Field("prefetch", INT), Field("flush", BOOL, 2),
        Field("start", BOOL, 2), Field("stop", BOOL, 2)]),
    CONNECTION_CONTROL: TypeSpec("ConnectionControl", _COMMAND + [
        Field("close", BOOL), Field("exit", BOOL), Field("fault_tolerant", BOOL),
        Field("resume", BOOL), Field("suspend", BOOL), Field("connected_brokers", STRING, 6),
        Field("reconnect_to", STRING, 6), Field("rebalance_connection", BOOL, 6),
        Field("token", BYTES, 8)]),
    PRODUCER_ACK: TypeSpec("ProducerAck", _COMMAND + [
        _obj("producer_id", PRODUCER_ID, since=3), Field("size", INT, 3)]),
    MESSAGE_PULL: TypeSpec("MessagePull", _COMMAND + [
        _obj("consumer_id", CONSUMER_ID, since=2), _obj("destination", DESTINATIONS, since=2),
        Field("timeout", LONG, 2), Field("correlation_id", STRING, 3),
        _obj("message_id", MESSAGE_ID, since=3)]),
    MESSAGE_DISPATCH: TypeSpec("MessageDispatch", _COMMAND + [
        _obj("consumer_id", CONSUMER_ID), _obj("destination", DESTINATIONS),
        _obj("message", MESSAGE_TYPES), Field("redelivery_counter", INT)]),
    MESSAGE_ACK: TypeSpec("MessageAck", _COMMAND + [
        _obj("destination", DESTINATIONS), _obj("transaction_id", TRANSACTION_IDS),
        _obj("consumer_id", CONSUMER_ID), Field("ack_type", BYTE),
        _obj("first_message_id", MESSAGE_ID), _obj("last_message_id", MESSAGE_ID),
        Field("message_count", INT), Field("poison_cause", THROWABLE, 7)]),
    MESSAGE: TypeSpec("ActiveMQMessage", _MESSAGE),
    BYTES_MESSAGE: TypeSpec("ActiveMQBytesMessage", _MESSAGE),
    MAP_MESSAGE: TypeSpec("ActiveMQMapMessage", _MESSAGE),
    OBJECT_MESSAGE: TypeSpec("ActiveMQObjectMessage", _MESSAGE),
    STREAM_MESSAGE: TypeSpec("ActiveMQStreamMessage", _MESSAGE),
    TEXT_MESSAGE: TypeSpec("ActiveMQTextMessage", _MESSAGE),
    BLOB_MESSAGE: TypeSpec("ActiveMQBlobMessage", _MESSAGE + [
        Field("remote_blob_url", STRING, 3), Field("mime_type", STRING, 3),
        Field("deleted_by_broker", BOOL, 3)]),
    RESPONSE: TypeSpec("Response", _COMMAND + [Field("correlation_id", INT)]),
    EXCEPTION_RESPONSE: TypeSpec("ExceptionResponse", _COMMAND + [
        Field("correlation_id", INT), Field("exception", THROWABLE)]),
    INTEGER_RESPONSE: TypeSpec("IntegerResponse", _COMMAND + [
        Field("correlation_id", INT), Field("result", INT)]),
    QUEUE: TypeSpec("ActiveMQQueue", [Field("physical_name", STRING)]),
    TOPIC: TypeSpec("ActiveMQTopic", [Field("physical_name", STRING)]),
    TEMP_QUEUE: TypeSpec("ActiveMQTempQueue", [Field("physical_name", STRING)]),
    TEMP_TOPIC: TypeSpec("ActiveMQTempTopic", [Field("physical_name", STRING)]),
    MESSAGE_ID: TypeSpec("MessageId", [
        Field("text_view", STRING, 10), _obj("producer_id", PRODUCER_ID),
        Field("producer_sequence_id", LONG), Field("broker_sequence_id", LONG)]),
    LOCAL_TRANSACTION_ID: TypeSpec("LocalTransactionId", [
        Field("value", LONG), _obj("connection_id", CONNECTION_ID)]),
    XA_TRANSACTION_ID: TypeSpec("XATransactionId", [
        Field("format_id", INT), Field("global_transaction_id", BYTES),
        Field("branch_qualifier", BYTES)]),
    CONNECTION_ID: TypeSpec("ConnectionId", [Field("value", STRING)]),
    SESSION_ID: TypeSpec("SessionId", [Field("connection_id", STRING), Field("value", LONG)]),
    CONSUMER_ID: TypeSpec("ConsumerId", [
        Field("connection_id", STRING), Field("session_id", LONG), Field("value", LONG)]),
    PRODUCER_ID: TypeSpec("ProducerId", [
        Field("connection_id", STRING), Field("value", LONG), Field("session_id", LONG)]),
    BROKER_ID: TypeSpec("BrokerId", [Field("value", STRING)]),
}
