"""Regenerate the Python modules of the Prometheus remote-write protos (needs grpcio-tools):

    .venv/bin/python src/vigil/prom/prompb/generate.py

The generated modules are committed, so a server needs only protobuf at run time.
"""

from __future__ import annotations

import sys
from pathlib import Path

HEADER = """\
# Generated from {proto} by grpcio-tools; do not edit (run generate.py beside this file).
# The remote-write wire format it encodes is Prometheus' (prometheus/prometheus, prompb,
# Apache License 2.0, Copyright Prometheus Team).
"""


def main() -> None:
    from grpc_tools import protoc

    here = Path(__file__).resolve().parent
    src = here.parents[2]
    protos = [str(p.relative_to(src)) for p in sorted(here.glob("*.proto"))]
    if protoc.main(["protoc", f"-I{src}", f"--python_out={src}", f"--pyi_out={src}", *protos]) != 0:
        sys.exit("protoc failed")
    for path in sorted(here.glob("*_pb2*.py*")):
        proto = path.name.split("_pb2")[0] + ".proto"
        text = path.read_text()
        if not text.startswith("# Generated from"):
            path.write_text(HEADER.format(proto=proto) + text)


if __name__ == "__main__":
    main()
