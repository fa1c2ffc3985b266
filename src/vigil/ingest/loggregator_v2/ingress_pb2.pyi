# Generated from ingress.proto by grpcio-tools; do not edit (run generate.py beside this file).
# The Loggregator v2 wire format it encodes is the Loggregator API's (cloudfoundry/loggregator-api,
# Apache License 2.0, Copyright CloudFoundry.org Foundation).
from vigil.ingest.loggregator_v2 import envelope_pb2 as _envelope_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar

DESCRIPTOR: _descriptor.FileDescriptor

class IngressResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class BatchSenderResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SendResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
