# Generated from envelope.proto by grpcio-tools; do not edit (run generate.py beside this file).
# The Loggregator v2 wire format it encodes is the Loggregator API's (cloudfoundry/loggregator-api,
# Apache License 2.0, Copyright CloudFoundry.org Foundation).
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Envelope(_message.Message):
    __slots__ = ("timestamp", "source_id", "instance_id", "deprecated_tags", "tags", "log", "counter", "gauge", "timer", "event")
    class DeprecatedTagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Value, _Mapping]] = ...) -> None: ...
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    SOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    DEPRECATED_TAGS_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    LOG_FIELD_NUMBER: _ClassVar[int]
    COUNTER_FIELD_NUMBER: _ClassVar[int]
    GAUGE_FIELD_NUMBER: _ClassVar[int]
    TIMER_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    timestamp: int
    source_id: str
    instance_id: str
    deprecated_tags: _containers.MessageMap[str, Value]
    tags: _containers.ScalarMap[str, str]
    log: Log
    counter: Counter
    gauge: Gauge
    timer: Timer
    event: Event
    def __init__(self, timestamp: _Optional[int] = ..., source_id: _Optional[str] = ..., instance_id: _Optional[str] = ..., deprecated_tags: _Optional[_Mapping[str, Value]] = ..., tags: _Optional[_Mapping[str, str]] = ..., log: _Optional[_Union[Log, _Mapping]] = ..., counter: _Optional[_Union[Counter, _Mapping]] = ..., gauge: _Optional[_Union[Gauge, _Mapping]] = ..., timer: _Optional[_Union[Timer, _Mapping]] = ..., event: _Optional[_Union[Event, _Mapping]] = ...) -> None: ...

class EnvelopeBatch(_message.Message):
    __slots__ = ("batch",)
    BATCH_FIELD_NUMBER: _ClassVar[int]
    batch: _containers.RepeatedCompositeFieldContainer[Envelope]
    def __init__(self, batch: _Optional[_Iterable[_Union[Envelope, _Mapping]]] = ...) -> None: ...

class Value(_message.Message):
    __slots__ = ("text", "integer", "decimal")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    INTEGER_FIELD_NUMBER: _ClassVar[int]
    DECIMAL_FIELD_NUMBER: _ClassVar[int]
    text: str
    integer: int
    decimal: float
    def __init__(self, text: _Optional[str] = ..., integer: _Optional[int] = ..., decimal: _Optional[float] = ...) -> None: ...

class Log(_message.Message):
    __slots__ = ("payload", "type")
    class Type(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        OUT: _ClassVar[Log.Type]
        ERR: _ClassVar[Log.Type]
    OUT: Log.Type
    ERR: Log.Type
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    payload: bytes
    type: Log.Type
    def __init__(self, payload: _Optional[bytes] = ..., type: _Optional[_Union[Log.Type, str]] = ...) -> None: ...

class Counter(_message.Message):
    __slots__ = ("name", "delta", "total")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DELTA_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    name: str
    delta: int
    total: int
    def __init__(self, name: _Optional[str] = ..., delta: _Optional[int] = ..., total: _Optional[int] = ...) -> None: ...

class Gauge(_message.Message):
    __slots__ = ("metrics",)
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: GaugeValue
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[GaugeValue, _Mapping]] = ...) -> None: ...
    METRICS_FIELD_NUMBER: _ClassVar[int]
    metrics: _containers.MessageMap[str, GaugeValue]
    def __init__(self, metrics: _Optional[_Mapping[str, GaugeValue]] = ...) -> None: ...

class GaugeValue(_message.Message):
    __slots__ = ("unit", "value")
    UNIT_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    unit: str
    value: float
    def __init__(self, unit: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...

class Timer(_message.Message):
    __slots__ = ("name", "start", "stop")
    NAME_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    STOP_FIELD_NUMBER: _ClassVar[int]
    name: str
    start: int
    stop: int
    def __init__(self, name: _Optional[str] = ..., start: _Optional[int] = ..., stop: _Optional[int] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("title", "body")
    TITLE_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    title: str
    body: str
    def __init__(self, title: _Optional[str] = ..., body: _Optional[str] = ...) -> None: ...
