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
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
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
_T = TypeVar("_T")


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


@dataclass(frozen=True, slots=True)
class Validators:
    """What a server said identifies the body it sent (ETag, Last-Modified), to ask later whether it changed."""

    etag: str | None = None
    last_modified: str | None = None

    def headers(self) -> dict[str, str]:
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


@dataclass(frozen=True, slots=True)
class Downloaded:
    """A body streamed to a file by `Fetcher.download_to`."""

    path: Path
    bytes: int
    sha256: str
    content_type: str | None
    validators: Validators
    url: str  # after redirects


class Fetcher:
    """GET with timeouts, bounded retries with backoff (honouring Retry-After), a size cap and a disk cache.

    After `max_host_failures` downloads from one host in a row failed despite retries, the rest of the run
    stops asking that host (the cached copies serve), so a dead CDN costs seconds rather than an hour of
    timeouts. `store=False` never writes the cache (dry runs). `sleep` is injectable so tests need not wait.
    A response's headers must arrive within `headers_timeout`, its body within `total_timeout`: the read
    timeout alone never ends a server that sends a byte at a time.
    """

    def __init__(
        self,
        cache_dir: Path,
        *,
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
        total_timeout: float = 300.0,
        headers_timeout: float = 60.0,
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
        self.headers_timeout = headers_timeout
        self.retries = retries
        self.backoff = backoff
        self.max_retry_after = max_retry_after
        self.max_bytes = max_bytes
        self.max_host_failures = max_host_failures
        self.store = store
        self.stats = FetchStats()
        self._sleep = sleep
        self._host_failures: dict[str, int] = {}  # consecutive downloads that failed after every retry
        self._timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
        self._client = self._new_client()

    def _new_client(self) -> httpx.Client:
        return httpx.Client(
            timeout=self._timeout,
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

    def keep(self, location: str, body: bytes) -> None:
        """Keep a copy of a local file's body, served by `cached` once the file is gone (an unmounted share)."""
        if not self.store or ((copy := self.cached(location)) is not None and copy.body == body):
            return
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        _write_atomic(self._body_path(location), body)
        record = {"url": location, "final_url": location, "content_type": None, "fetched_at": time.time()}
        _write_atomic(self._record_path(location), json.dumps(record).encode())

    def download_to(
        self,
        url: str,
        path: Path,
        *,
        validators: Validators,
        max_bytes: int,
        fallback: bool = False,
        total_timeout: float = 3600.0,
    ) -> Downloaded | None:
        """Stream the body at `url` into the file `path` (audio: too big to hold in memory or in this cache).

        The caller keeps the file and the validators; `validators` from its last download make the request
        conditional, and None is returned when the server answers that nothing changed (304). Retries, backoff,
        timeouts and the per-host give-up are those of `get`; `max_bytes` caps the body and `total_timeout` the
        whole download. Raises DownloadError (recorded for the report; `fallback` says whether the caller has an
        earlier result to use instead).
        """
        # Audio does not compress: identity spares decompressing it, and makes Content-Length the size to cap.
        headers = {"Accept-Encoding": "identity", **validators.headers()}
        try:
            response, result = self._with_retries(
                url, headers, lambda sent: self._stream_to(url, sent, path, max_bytes, total_timeout)
            )
            if response.status_code == 304:
                if not validators.headers():
                    raise DownloadError(url, "Not Modified, to a request that named no earlier copy", 304)
                self.stats.not_modified += 1
                return None
            if response.status_code != 200 or result is None:
                raise DownloadError(url, response.reason_phrase or _phrase(response.status_code), response.status_code)
            if not result.bytes:
                raise DownloadError(url, "empty response", 200)
        except DownloadError as exc:
            self.stats.failures.append(Failure(url, exc.status, exc.reason, used_cache=fallback))
            raise
        self.stats.downloaded += 1
        return result

    def _download(self, url: str, check: Callable[[bytes], object] | None) -> Fetched:
        headers = self._validators(url)
        response, body = self._with_retries(url, headers, lambda sent: self._request(url, sent))
        if response.status_code == 304:
            if (copy := self.cached(url)) is not None:
                self.stats.not_modified += 1
                return copy
            if not headers:
                raise DownloadError(url, "Not Modified, to a request that named no cached copy", 304)
            # The cached copy vanished since we asked: ask again for the whole body.
            response, body = self._with_retries(url, {}, lambda sent: self._request(url, sent))
        status = response.status_code
        if status != 200:
            raise DownloadError(url, response.reason_phrase or _phrase(status), status)
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

    def _with_retries(
        self, url: str, headers: dict[str, str], request: Callable[[dict[str, str]], tuple[httpx.Response, _T]]
    ) -> tuple[httpx.Response, _T]:
        """`request(headers)` until the server gives an answer worth keeping (anything but a transient error or
        a RETRY_STATUSES status), with backoff between attempts; DownloadError when the retries run out."""
        try:
            host = urlsplit(url).netloc
        except ValueError as exc:  # "https://[podcast.example/feed.xml": an unclosed IPv6 bracket
            raise DownloadError(url, f"invalid URL ({exc})") from exc
        failed = self._host_failures.get(host, 0)
        if failed >= self.max_host_failures:
            raise DownloadError(url, f"not tried: the last {failed} downloads from {host} failed")
        attempt = 0
        while True:
            attempt += 1
            try:
                response, result = request(headers)
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
            if status not in RETRY_STATUSES:
                self._host_failures.pop(host, None)  # the host answers: it is up
                return response, result
            phrase = response.reason_phrase or _phrase(status)
            wait = _retry_after(response)
            if wait is not None and wait > self.max_retry_after:
                raise DownloadError(url, f"{phrase}; the server asked to wait {wait:.0f} s", status)
            if attempt > self.retries:
                self._host_failures[host] = failed + 1
                raise DownloadError(url, f"{phrase} after {attempt} attempts", status)
            self._sleep(wait if wait is not None else self.backoff * 2 ** (attempt - 1))

    def _request(self, url: str, headers: dict[str, str]) -> tuple[httpx.Response, bytes]:
        """One GET; the body is read only for a 200, decompressed under the size cap and the total timeout."""
        body = bytearray()
        with self._stream(url, headers) as response:
            if response.status_code == 200:
                for data in self._body(url, response, self.max_bytes, self.total_timeout):
                    body += data
            return response, bytes(body)

    def _stream_to(
        self, url: str, headers: dict[str, str], path: Path, max_bytes: int, total_timeout: float
    ) -> tuple[httpx.Response, Downloaded | None]:
        """One GET written to `path` (from its start: an earlier attempt's bytes are overwritten)."""
        with self._stream(url, headers) as response:
            if response.status_code != 200:
                return response, None
            digest, size = hashlib.sha256(), 0
            try:
                with open(path, "wb") as handle:
                    for data in self._body(url, response, max_bytes, total_timeout):
                        handle.write(data)
                        digest.update(data)
                        size += len(data)
            except OSError as exc:  # a full disk fails this download, not the whole build
                raise DownloadError(url, f"cannot write it to {path.parent} ({exc.strerror or exc})") from exc
            validators = Validators(response.headers.get("ETag"), response.headers.get("Last-Modified"))
            content_type = response.headers.get("Content-Type")
            return response, Downloaded(path, size, digest.hexdigest(), content_type, validators, str(response.url))

    @contextmanager
    def _stream(self, url: str, headers: dict[str, str]) -> Iterator[httpx.Response]:
        """A streamed GET whose headers must come within `headers_timeout`: past it a watchdog closes the
        client, which ends the blocked read at the server's next byte, and a fresh client serves what follows."""
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            self._client.close()

        watchdog = threading.Timer(self.headers_timeout, expire)
        watchdog.daemon = True
        watchdog.start()
        try:
            with self._client.stream("GET", url, headers=headers) as response:
                watchdog.cancel()
                yield response
        except (httpx.HTTPError, RuntimeError) as exc:  # RuntimeError: the client was closed under the request
            if not expired.is_set():
                raise
            raise DownloadError(url, f"no response within {self.headers_timeout:g} s") from exc
        finally:
            watchdog.cancel()
            if expired.is_set():
                self._client = self._new_client()

    def _body(self, url: str, response: httpx.Response, limit: int, timeout: float) -> Iterator[bytes]:
        """A 200 response's body, decompressed, in pieces; DownloadError past `limit` bytes or `timeout` seconds."""
        deadline = time.monotonic() + timeout
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            raise DownloadError(url, f"{declared} bytes is larger than the {_megabytes(limit)} limit", 200)
        decoder = _Decoder(url, response.headers.get("Content-Encoding", ""), limit)
        for raw in response.iter_raw():
            yield decoder.feed(raw)
            if time.monotonic() > deadline:
                raise DownloadError(url, f"still downloading after {timeout:g} s", 200)
        decoder.finish()

    def _validators(self, url: str) -> dict[str, str]:
        record = self._read_record(url) or {}
        return Validators(record.get("etag"), record.get("last_modified")).headers()

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
    """Undoes a gzip Content-Encoding chunk by chunk, never letting the body grow past `limit` bytes.

    The limit applies to both what arrives and what it expands to: zlib is asked for at most one byte more
    than the room left, so a bomb stops at the cap instead of inflating a whole chunk in memory.
    """

    def __init__(self, url: str, encoding: str, limit: int) -> None:
        self.url = url
        self.limit = limit
        self._received = 0
        self._size = 0
        encoding = encoding.strip().lower()
        if encoding in ("", "identity"):
            self._zlib = None
        elif encoding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        else:
            raise DownloadError(url, f"unsupported Content-Encoding {encoding!r} (only gzip was offered)", 200)

    def feed(self, raw: bytes) -> bytes:
        """The body bytes in `raw`, decompressed."""
        self._received += len(raw)
        room = self.limit - self._size
        data = raw if self._zlib is None else self._inflate(raw, room + 1)
        if len(data) > room or self._received > self.limit:
            raise DownloadError(self.url, f"larger than the {_megabytes(self.limit)} limit", 200)
        self._size += len(data)
        return data

    def _inflate(self, raw: bytes, most: int) -> bytes:
        """At most `most` bytes inflated from `raw`, across gzip members: concatenated gzip files are one
        stream (RFC 1952), and stopping at the first member would silently cut the body short."""
        assert self._zlib is not None
        out = bytearray()
        while True:
            try:
                out += self._zlib.decompress(raw, most - len(out))
            except zlib.error as exc:
                raise DownloadError(self.url, f"corrupt gzip data ({exc})", 200) from exc
            raw = self._zlib.unused_data
            if len(out) >= most or not self._zlib.eof or not raw.strip(b"\0"):  # zero padding ends streams too
                return bytes(out)
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def finish(self) -> None:
        if self._zlib is not None and self._received and not self._zlib.eof:
            raise DownloadError(self.url, "the gzip stream was cut short", 200)


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date)."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isascii() and value.isdigit():  # "²" is a digit to str.isdigit, not to float()
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
