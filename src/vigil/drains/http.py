"""https:// and http:// drains: Logplex's HTTP drain protocol.

Lines are gathered for up to `drain_http_linger` seconds or until ~`drain_http_batch_bytes` (100 KB,
Logplex's target) and POSTed as `application/logplex-1`: RFC 6587 octet-counted RFC 5424 frames
without STRUCTURED-DATA, HOSTNAME the drain token. Headers: Content-Type, Logplex-Msg-Count,
Logplex-Frame-Id (the same on every retry of a batch, so the receiver can drop duplicates),
Logplex-Drain-Token, User-Agent, and basic auth from the URL's user info.

Answers: 2xx delivered; 4xx other than 429 dropped and counted (`rejected`: the receiver says the
batch itself is wrong, sending it again cannot help); 429, 5xx, timeouts and connection errors are
retried with the drain's backoff (429's Retry-After honoured up to `drain_backoff_max`), at most
`drain_http_attempts` sends, then dropped and counted (`failed`). Meanwhile new lines wait in the
drain's bounded buffer.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import time
from collections.abc import Sequence

import httpx

from vigil.config import Settings
from vigil.drains.model import Drain
from vigil.drains.worker import NETWORK_ERRORS, DrainWorker, LineFeed
from vigil.logs.logplex import CONTENT_TYPE, LogplexBatch, build_logplex_batches
from vigil.logs.model import LogLine

try:
    _VERSION = importlib.metadata.version("vigil")
except importlib.metadata.PackageNotFoundError:  # running from a source tree
    _VERSION = "dev"
# Logplex's is "Logplex/<version>"; receivers that check the product name still see Logplex.
USER_AGENT = f"Logplex/vigil-{_VERSION}"
_LINE_ESTIMATE = 120  # frame bytes besides the message, to decide when a batch is full


def retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header in its delay-seconds form (an HTTP date is ignored)."""
    if value and value.strip().isdigit():
        return float(value.strip())
    return None


class HttpWorker(DrainWorker):
    def __init__(self, drain: Drain, apps: Sequence[str], feed: LineFeed, settings: Settings) -> None:
        super().__init__(drain, apps, feed, settings)
        url = drain.url
        self.request_url = url.request_url
        self.auth = httpx.BasicAuth(url.username, url.password or "") if url.username is not None else None
        self.headers = {"Content-Type": CONTENT_TYPE, "Logplex-Drain-Token": drain.token, "User-Agent": USER_AGENT}
        self._client: httpx.AsyncClient | None = None

    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            s = self.settings
            verify = self.tls_context() or True
            self._client = httpx.AsyncClient(
                verify=verify, trust_env=False, follow_redirects=False,
                timeout=httpx.Timeout(s.drain_http_timeout, connect=s.drain_connect_timeout),
                limits=httpx.Limits(max_connections=1, max_keepalive_connections=1))
        return self._client

    async def disconnect(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await client.aclose()

    async def gather(self) -> list[LogLine] | None:
        """The next batch's lines: whatever is buffered, then more for up to `drain_http_linger`
        seconds while they would still fit in one batch."""
        s = self.settings
        lines = await self.next_lines(s.drain_buffer_lines)
        if not lines:
            return lines
        size = sum(len(line.message) + _LINE_ESTIMATE for line in lines)
        deadline = time.monotonic() + s.drain_http_linger
        while size < s.drain_http_batch_bytes and len(lines) < s.drain_buffer_lines:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            more = await self.next_lines(s.drain_buffer_lines - len(lines), left)
            if not more:
                break
            lines += more
            size += sum(len(line.message) + _LINE_ESTIMATE for line in more)
        return lines

    async def run(self) -> None:
        s = self.settings
        while True:
            lines = await self.gather()
            if lines is None:
                return
            for batch in build_logplex_batches(lines, target_bytes=s.drain_http_batch_bytes,
                                               hostname=self.drain.token):
                await self.deliver(batch)

    async def send(self, batch: LogplexBatch) -> tuple[int, float | None]:
        """POST one batch: (status, Retry-After seconds). Raises on a transport error or timeout."""
        headers = {**self.headers, "Logplex-Msg-Count": str(batch.count), "Logplex-Frame-Id": batch.frame_id}
        client = self.client()
        request = client.build_request("POST", self.request_url, content=batch.body, headers=headers)
        response = await client.send(request, stream=True, auth=self.auth)
        try:
            read = 0
            async for chunk in response.aiter_raw():
                read += len(chunk)
                if read > self.settings.drain_http_response_bytes:
                    break  # enough: closing the unread response drops the connection
        finally:
            await response.aclose()
        return response.status_code, retry_after(response.headers.get("retry-after"))

    async def deliver(self, batch: LogplexBatch) -> None:
        s = self.settings
        attempt = 0
        while True:
            attempt += 1
            try:
                status, wait_hint = await self.send(batch)
            except (httpx.HTTPError, *NETWORK_ERRORS) as exc:
                self.failing(exc, "POST failed (retrying with backoff)")
                status, wait_hint = 0, None
                await self.disconnect()  # a fresh connection for the retry
            if 200 <= status < 300:
                self.stats.delivered += batch.count
                self.backoff.reset()
                self.recovered()
                return
            if 400 <= status < 500 and status != 429:
                self.stats.rejected += batch.count
                self.failing(RuntimeError(f"HTTP {status}"), "a batch was refused and dropped", connected=True)
                return
            if status:
                self.failing(RuntimeError(f"HTTP {status}"), "POST failed (retrying with backoff)", connected=True)
            if attempt >= s.drain_http_attempts:
                self.stats.failed += batch.count
                return
            self.stats.retries += 1
            wait = self.backoff.next()
            if wait_hint is not None:
                wait = min(max(wait, wait_hint), s.drain_backoff_max)
            await asyncio.sleep(wait)
