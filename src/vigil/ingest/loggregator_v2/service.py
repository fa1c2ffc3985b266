"""The `loggregator.v2.Ingress` gRPC service built from its messages: the server's handler and a
client stub.

grpcio-tools generates these as `ingress_pb2_grpc.py`, with a base servicer whose every method
answers UNIMPLEMENTED. Vigil implements all three methods, so the table below is all it needs of
that module; `generate.py` no longer writes it.
"""

from __future__ import annotations

from typing import Any

import grpc

from vigil.ingest.loggregator_v2 import envelope_pb2, ingress_pb2

SERVICE = "loggregator.v2.Ingress"
# method -> (its requests come as a stream, request message, response message), as in ingress.proto
METHODS: dict[str, tuple[bool, Any, Any]] = {
    "Sender": (True, envelope_pb2.Envelope, ingress_pb2.IngressResponse),
    "BatchSender": (True, envelope_pb2.EnvelopeBatch, ingress_pb2.BatchSenderResponse),
    "Send": (False, envelope_pb2.EnvelopeBatch, ingress_pb2.SendResponse),
}


def handler(implementation: Any) -> grpc.GenericRpcHandler:
    """The service's handler; `implementation` has an (async) method for each name in METHODS."""
    handlers = {}
    for name, (streaming, request, response) in METHODS.items():
        make = grpc.stream_unary_rpc_method_handler if streaming else grpc.unary_unary_rpc_method_handler
        handlers[name] = make(getattr(implementation, name), request_deserializer=request.FromString,
                              response_serializer=response.SerializeToString)
    return grpc.method_handlers_generic_handler(SERVICE, handlers)


class IngressStub:
    """A client of the service over `channel`: `Sender`, `BatchSender` and `Send`, as an agent calls them."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        for name, (streaming, request, response) in METHODS.items():
            call = channel.stream_unary if streaming else channel.unary_unary
            setattr(self, name, call(f"/{SERVICE}/{name}", request_serializer=request.SerializeToString,
                                     response_deserializer=response.FromString))
