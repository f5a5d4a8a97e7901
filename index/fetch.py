"""Downloads of feeds and transcripts over HTTP, cached on disk and revalidated with conditional requests.

A maintainer re-runs the build every week: an unchanged transcript must cost one 304, not a download. Each
cached response is two files named by the URL's hash: the body, and a small JSON record of the response
headers that matter (ETag, Last-Modified, Content-Type, the URL after redirects). Both are written atomically
so a killed run never leaves half a body.

A download that still fails after bounded retries falls back to the copy an earlier run cached (HTTP's
stale-if-error), so a flaky host never takes an episode out of the index; every failure is recorded for the
end-of-run report either way. Bodies are decompressed here rather than by httpx so the size cap bounds what is
held in memory: a small gzip bomb cannot expand past it.
"""

from __future__ import annotations

import email.utils
import hashlib
import http
import json
import logging
import os
import tempfile
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from index.errors import DownloadError, PodcastIndexError

log = logging.getLogger(__name__)

USER_AGENT = "podcast-qa-bot/0.1 (+https://github.com/podcast-qa-bot; transcript indexer)"
MAX_BYTES = 50 * 1024 * 1024
RETRY_STATUSES = {429, 500, 502, 503, 504}
# Worth another attempt: the network or the server may do better in a moment. Everything else (bad URL, too
# many redirects, an unsupported scheme) would fail the same way again.
TRANSIENT_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


@dataclass(frozen=True, slots=True)
class Failure:
    """A download that failed for good, as the end-of-run report lists it."""

    url: str
    status: int | None
    reason: str
    used_cache: bool  # the copy an earlier run downloaded was used instead


@dataclass
class FetchStats:
    downloaded: int = 0  # 200 responses
    not_modified: int = 0  # 304 responses: the cached copy was still good
    from_cache: int = 0  # cached copies used without the server's word: archived episodes, failed downloads
    failures: list[Failure] = field(default_factory=list)

    def brief(self) -> str:
        """The counts that are not zero, for a progress line ("" when nothing went over HTTP)."""
        counts = (self.downloaded, self.not_modified, self.from_cache, len(self.failures))
        names = ("downloaded", "not modified", "from the cache", "failed")
        return ", ".join(f"{count:,} {name}" for count, name in zip(counts, names, strict=True) if count)

    def summary(self) -> str:
        lines = [
            f"Downloads: {self.downloaded} downloaded, {self.not_modified} not modified (304),"
            f" {self.from_cache} from the cache, {len(self.failures)} failed"
        ]
        for failure in self.failures:
            status = f"HTTP {failure.status}" if failure.status is not None else "no response"
            outcome = "used the copy cached by an earlier run" if failure.used_cache else "nothing cached: left out"
            lines.append(f"  {failure.url}: {status}: {failure.reason} ({outcome})")
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Fetched:
    url: str  # after redirects: what relative links in the body resolve against
    body: bytes
    content_type: str | None
    from_cache: bool


class Fetcher:
    """GET with timeouts, bounded retries with backoff (honouring Retry-After), a size cap and a disk cache.

    After `max_host_failures` downloads from one host in a row failed despite retries, the rest of the run
    stops asking that host (the cached copies serve), so a dead CDN costs seconds rather than an hour of
    timeouts. `store=False` never writes the cache (dry runs). `sleep` is injectable so tests need not wait.
    """

    def __init__(
        self,
        cache_dir: Path,
        *,
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
        total_timeout: float = 300.0,
        retries: int = 3,
        backoff: float = 1.0,
        max_retry_after: float = 120.0,
        max_bytes: int = MAX_BYTES,
        max_host_failures: int = 3,
        store: bool = True,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.cache_dir = cache_dir
        self.total_timeout = total_timeout
        self.retries = retries
        self.backoff = backoff
        self.max_retry_after = max_retry_after
        self.max_bytes = max_bytes
        self.max_host_failures = max_host_failures
        self.store = store
        self.stats = FetchStats()
        self._sleep = sleep
        self._host_failures: dict[str, int] = {}  # consecutive downloads that failed after every retry
        self._client = httpx.Client(
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            # Only gzip: it is what _Decoder undoes, and every server that compresses offers it.
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": "gzip"},
            follow_redirects=True,
            max_redirects=5,
        )

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def get(self, url: str, *, check: Callable[[bytes], object] | None = None, revalidate: bool = True) -> Fetched:
        """The body at `url`; the cached copy when the server says it has not changed or cannot be reached.

        `check` vets a freshly downloaded body before it replaces the cached one: raising PodcastIndexError
        rejects it (an HTML error page served with 200). `revalidate=False` uses a cached copy without asking
        the server (episodes the feed no longer lists). Raises DownloadError when there is no usable copy.
        """
        if not revalidate and (copy := self.cached(url)) is not None:
            self.stats.from_cache += 1
            return copy
        try:
            return self._download(url, check)
        except DownloadError as exc:
            copy = self.cached(url)
            self.stats.failures.append(Failure(url, exc.status, exc.reason, used_cache=copy is not None))
            if copy is None:
                raise
            log.warning("%s; using the copy cached by an earlier run", exc)
            self.stats.from_cache += 1
            return copy

    def cached(self, url: str) -> Fetched | None:
        """The cached copy of `url` without asking the server, or None."""
        record = self._read_record(url)
        if record is None:
            return None
        try:
            body = self._body_path(url).read_bytes()
        except OSError:
            return None
        return Fetched(record.get("final_url") or url, body, record.get("content_type"), True)

    def _download(self, url: str, check: Callable[[bytes], object] | None) -> Fetched:
        host = urlsplit(url).netloc
        failed = self._host_failures.get(host, 0)
        if failed >= self.max_host_failures:
            raise DownloadError(url, f"not tried: the last {failed} downloads from {host} failed")
        headers = self._validators(url)
        attempt = 0
        while True:
            attempt += 1
            try:
                response, body = self._request(url, headers)
            except TRANSIENT_ERRORS as exc:
                if attempt > self.retries:
                    self._host_failures[host] = failed + 1
                    raise DownloadError(url, f"{_describe(exc)} after {attempt} attempts") from exc
                self._sleep(self.backoff * 2 ** (attempt - 1))
                continue
            except httpx.HTTPError as exc:  # too many redirects, unsupported scheme: retrying cannot help
                raise DownloadError(url, _describe(exc)) from exc
            except httpx.InvalidURL as exc:
                raise DownloadError(url, f"invalid URL ({exc})") from exc
            status = response.status_code
            phrase = response.reason_phrase or _phrase(status)
            if status not in RETRY_STATUSES:
                self._host_failures.pop(host, None)  # the host answers: it is up
            if status == 304:
                if (copy := self.cached(url)) is not None:
                    self.stats.not_modified += 1
                    return copy
                if not headers:
                    raise DownloadError(url, "Not Modified, to a request that named no cached copy", status)
                headers = {}  # the cached copy vanished since we asked: ask again for the whole body
                attempt -= 1
                continue
            if status in RETRY_STATUSES:
                wait = _retry_after(response)
                if wait is not None and wait > self.max_retry_after:
                    raise DownloadError(url, f"{phrase}; the server asked to wait {wait:.0f} s", status)
                if attempt > self.retries:
                    self._host_failures[host] = failed + 1
                    raise DownloadError(url, f"{phrase} after {attempt} attempts", status)
                self._sleep(wait if wait is not None else self.backoff * 2 ** (attempt - 1))
                continue
            if status != 200:
                raise DownloadError(url, phrase, status)
            if not body:
                raise DownloadError(url, "empty response", status)
            if check is not None:
                try:
                    check(body)
                except PodcastIndexError as exc:
                    raise DownloadError(url, f"unusable response: {exc}", status) from exc
            self.stats.downloaded += 1
            content_type = response.headers.get("Content-Type")
            if self.store:
                self._write(url, body, response, content_type)
            return Fetched(str(response.url), body, content_type, False)

    def _request(self, url: str, headers: dict[str, str]) -> tuple[httpx.Response, bytes]:
        """One GET; the body is read only for a 200, decompressed under the size cap and the total timeout."""
        deadline = time.monotonic() + self.total_timeout
        with self._client.stream("GET", url, headers=headers) as response:
            if response.status_code != 200:
                return response, b""
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > self.max_bytes:
                raise DownloadError(url, f"{declared} bytes is larger than the {_megabytes(self.max_bytes)} limit", 200)
            decoder = _Decoder(url, response.headers.get("Content-Encoding", ""), self.max_bytes)
            for raw in response.iter_raw():
                decoder.feed(raw)
                if time.monotonic() > deadline:
                    raise DownloadError(url, f"still downloading after {self.total_timeout:g} s", 200)
            return response, decoder.finish()

    def _validators(self, url: str) -> dict[str, str]:
        record = self._read_record(url) or {}
        headers = {}
        if record.get("etag"):
            headers["If-None-Match"] = record["etag"]
        if record.get("last_modified"):
            headers["If-Modified-Since"] = record["last_modified"]
        return headers

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
            "final_url": str(response.url),
            "etag": response.headers.get("ETag"),
            "last_modified": response.headers.get("Last-Modified"),
            "content_type": content_type,
            "fetched_at": time.time(),
        }
        # Body first: a run killed in between leaves the old validators, which only cost a full download.
        _write_atomic(self._body_path(url), body)
        _write_atomic(self._record_path(url), json.dumps(record).encode())


class _Decoder:
    """Undoes a gzip Content-Encoding chunk by chunk, never holding more than `limit` bytes.

    The limit applies to both what arrives and what it expands to: zlib is asked for at most one byte more
    than the room left, so a bomb stops at the cap instead of inflating a whole chunk in memory.
    """

    def __init__(self, url: str, encoding: str, limit: int) -> None:
        self.url = url
        self.limit = limit
        self._received = 0
        self._body = bytearray()
        encoding = encoding.strip().lower()
        if encoding in ("", "identity"):
            self._zlib = None
        elif encoding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        else:
            raise DownloadError(url, f"unsupported Content-Encoding {encoding!r} (only gzip was offered)", 200)

    def feed(self, raw: bytes) -> None:
        self._received += len(raw)
        room = self.limit - len(self._body)
        if self._zlib is None:
            data = raw
        else:
            try:
                data = self._zlib.decompress(raw, room + 1)
            except zlib.error as exc:
                raise DownloadError(self.url, f"corrupt gzip data ({exc})", 200) from exc
        if len(data) > room or self._received > self.limit:
            raise DownloadError(self.url, f"larger than the {_megabytes(self.limit)} limit", 200)
        self._body += data

    def finish(self) -> bytes:
        if self._zlib is not None and self._received and not self._zlib.eof:
            raise DownloadError(self.url, "the gzip stream was cut short", 200)
        return bytes(self._body)


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date)."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(when - time.time(), 0.0)


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "unexpected status"


def _megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:g} MB"


def _describe(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.ReadTimeout):
        return "the server stopped sending (read timeout)"
    if isinstance(exc, httpx.ConnectTimeout):
        return "could not connect in time"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"the response was cut short ({exc})"
    return f"{type(exc).__name__}: {exc}"


def _write_atomic(path: Path, data: bytes) -> None:
    """Write then rename; a unique temporary name so two runs sharing a cache never write into one file."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
