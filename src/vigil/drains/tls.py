"""The TLS client context of a syslog+tls:// or https:// drain.

Certificates are verified (chain and host name) against the system's trust store, plus the server's
`drain_ca_file` (every drain) and the drain's own `tls_ca` (PEM given when it was created). A drain
created with `tls_skip_verify` accepts any certificate, as Loggregator's skip-cert-verify does: the
traffic is still encrypted, but not authenticated.
"""

from __future__ import annotations

import ssl

from vigil.drains.model import DrainOptions


def client_context(options: DrainOptions, ca_file: str | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if ca_file:
        ctx.load_verify_locations(cafile=ca_file)
    if options.ca:
        ctx.load_verify_locations(cadata=options.ca)
    if options.skip_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx
