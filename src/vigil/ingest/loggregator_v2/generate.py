"""Regenerate the Python modules of the Loggregator v2 protos (needs grpcio-tools):

    .venv/bin/python src/vigil/ingest/loggregator_v2/generate.py

The generated modules are committed, so a server needs only grpcio and protobuf at run time. The
service itself is not generated (`service.py` says why).
"""

from __future__ import annotations

import sys
from pathlib import Path

HEADER = """\
# Generated from {proto} by grpcio-tools; do not edit (run generate.py beside this file).
# The Loggregator v2 wire format it encodes is the Loggregator API's (cloudfoundry/loggregator-api,
# Apache License 2.0, Copyright CloudFoundry.org Foundation).
"""


def main() -> None:
    from grpc_tools import protoc

    here = Path(__file__).resolve().parent
    src = here.parents[2]
    protos = [str(p.relative_to(src)) for p in sorted(here.glob("*.proto"))]
    args = ["protoc", f"-I{src}", f"--python_out={src}", f"--pyi_out={src}", *protos]
    if protoc.main(args) != 0:
        sys.exit("protoc failed")
    for path in sorted(here.glob("*_pb2*.py*")):
        proto = path.name.split("_pb2")[0] + ".proto"
        text = path.read_text()
        if not text.startswith("# Generated from"):
            path.write_text(HEADER.format(proto=proto) + text)


if __name__ == "__main__":
    main()
