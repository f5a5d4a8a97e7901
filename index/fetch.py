"""Downloads of feeds and transcripts over HTTP, cached on disk and revalidated with conditional requests.

A maintainer re-runs the build every week: an unchanged transcript must cost one 304, not a download. Each
cached response is two files named by the URL's hash: the body, and a small JSON record of the validators
(ETag, Last-Modified) and content type. Both are written atomically so a killed run never leaves half a body.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from index.errors import DownloadError

log = logging.getLogger(__name__)

USER_AGENT = "podcast-qa-bot/0.1 (+https://github.com/podcast-qa-bot; transcript indexer)"
MAX_BYTES = 50 * 1024 * 1024
RETRY_STATUSES = {429, 500, 502, 503, 504}
MAX_RETRY_AFTER = 60.0


@dataclass
class FetchStats:
    downloaded: int = 0  # 200 responses
    not_modified: int = 0  # 304 responses: the cached copy was still good
    failed: int = 0


@dataclass(frozen=True, slots=True)
class Fetched:
    body: bytes
    content_type: str | None
    from_cache: bool


class Fetcher:
    """GET with timeouts, bounded retries with backoff (honouring Retry-After), a size cap and a disk cache."""

    def __init__(
        self,
        cache_dir: Path,
        *,
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 0.5,
        max_bytes: int = MAX_BYTES,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.cache_dir = cache_dir
        self.retries = retries
        self.backoff = backoff
        self.max_bytes = max_bytes
        self.stats = FetchStats()
        self._sleep = sleep
        self._client = httpx.Client(
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate"},
            follow_redirects=True,
            max_redirects=5,
        )

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def get(self, url: str) -> Fetched:
        """The body at `url`, from the cache when the server says it has not changed. Raises DownloadError."""
        record = self._read_record(url)
        headers = {}
        if record:
            if record.get("etag"):
                headers["If-None-Match"] = record["etag"]
            if record.get("last_modified"):
                headers["If-Modified-Since"] = record["last_modified"]
        for attempt in range(self.retries + 1):
            try:
                response, body = self._request(url, headers)
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                reason = _describe(exc)
                if attempt == self.retries:
                    self.stats.failed += 1
                    raise DownloadError(url, f"{reason} after {attempt + 1} attempts") from exc
                self._sleep(self.backoff * 2**attempt)
                continue
            if response.status_code == 304 and record:
                self.stats.not_modified += 1
                return Fetched(self._body_path(url).read_bytes(), record.get("content_type"), True)
            if response.status_code in RETRY_STATUSES and attempt < self.retries:
                self._sleep(_retry_after(response) or self.backoff * 2**attempt)
                continue
            if response.status_code != 200:
                self.stats.failed += 1
                raise DownloadError(url, response.reason_phrase or "unexpected status", response.status_code)
            self.stats.downloaded += 1
            content_type = response.headers.get("Content-Type")
            self._write(url, body, response, content_type)
            return Fetched(body, content_type, False)
        raise AssertionError("unreachable")  # pragma: no cover - the loop always returns or raises

    def cached(self, url: str) -> Fetched | None:
        """The cached copy of `url` without asking the server (dry runs, archived episodes)."""
        record = self._read_record(url)
        if record is None:
            return None
        return Fetched(self._body_path(url).read_bytes(), record.get("content_type"), True)

    def _request(self, url: str, headers: dict[str, str]) -> tuple[httpx.Response, bytes]:
        with self._client.stream("GET", url, headers=headers) as response:
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > self.max_bytes:
                raise DownloadError(url, f"larger than the {self.max_bytes // 1024 // 1024} MB limit")
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > self.max_bytes:
                    raise DownloadError(url, f"larger than the {self.max_bytes // 1024 // 1024} MB limit")
                chunks.append(chunk)
            return response, b"".join(chunks)

    def _key(self, url: str) -> str:
        return hashlib.sha256(url.encode()).hexdigest()[:32]

    def _body_path(self, url: str) -> Path:
        return self.cache_dir / f"{self._key(url)}.body"

    def _record_path(self, url: str) -> Path:
        return self.cache_dir / f"{self._key(url)}.json"

    def _read_record(self, url: str) -> dict[str, str] | None:
        try:
            record = json.loads(self._record_path(url).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or record.get("url") != url or not self._body_path(url).is_file():
            return None
        return record

    def _write(self, url: str, body: bytes, response: httpx.Response, content_type: str | None) -> None:
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        record = {
            "url": url,
            "etag": response.headers.get("ETag"),
            "last_modified": response.headers.get("Last-Modified"),
            "content_type": content_type,
            "fetched_at": time.time(),
        }
        _write_atomic(self._body_path(url), body)
        _write_atomic(self._record_path(url), json.dumps(record).encode())


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), capped."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return min(max(when - time.time(), 0.0), MAX_RETRY_AFTER)


def _describe(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.ReadTimeout):
        return "the server stopped sending (read timeout)"
    if isinstance(exc, httpx.ConnectTimeout):
        return "could not connect in time"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"the response was cut short ({exc})"
    return f"{type(exc).__name__}: {exc}"


def _write_atomic(path: Path, data: bytes) -> None:
    temporary = path.with_suffix(path.suffix + ".tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
