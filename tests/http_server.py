"""A real HTTP server on 127.0.0.1 for download tests, with the faults feeds meet in the wild.

`Site` serves a directory (read-only, e.g. the shared corpus) and in-memory files laid over it, with ETag
and Last-Modified validators and 304s, gzip when the client asks, a log of every request, and faults queued
per path: a status (500, 429 with Retry-After, 404, a redirect), a stall before answering, a body cut short
of its Content-Length, a slow drip, a substituted body or Content-Type.
"""

from __future__ import annotations

import email.utils
import gzip
import hashlib
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

CONTENT_TYPES = {
    ".xml": "application/rss+xml",
    ".vtt": "text/vtt",
    ".srt": "application/x-subrip",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/markdown",
}


@dataclass(frozen=True)
class Fault:
    """How to misbehave for one request. Unset fields behave normally."""

    status: int | None = None  # answer with this status and a short body instead of the file
    headers: dict[str, str] = field(default_factory=dict)  # extra response headers (Retry-After, Location)
    stall: float = 0.0  # seconds to wait before answering at all
    truncate: bool = False  # announce the whole body's Content-Length, send half of it, close the connection
    drip: float = 0.0  # seconds to wait before each 1 KB of the body
    body: bytes | None = None  # serve this instead of the file (sent as is, never gzipped again)
    content_type: str | None = None  # a Content-Type other than the file's


@dataclass(frozen=True)
class Logged:
    method: str
    path: str
    status: int
    headers: dict[str, str]  # request headers, names lower-cased


class Site:
    """Serves `root` and `files` on an ephemeral port until `stop()` (or the end of a `with` block)."""

    def __init__(self, root: Path | None = None, *, etag: bool = True, last_modified: bool = True) -> None:
        self.root = root.resolve() if root else None
        self.etag = etag
        self.last_modified = last_modified
        self.gzip = True
        self.log: list[Logged] = []
        self._files: dict[str, tuple[bytes, float]] = {}
        self._faults: dict[str, deque[Fault]] = {}
        self._always: dict[str, Fault] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._server.site = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    def __enter__(self) -> Site:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    def put(self, path: str, body: bytes) -> None:
        """Serve `body` at `path`, newer than whatever was there (so Last-Modified alone tells them apart)."""
        with self._lock:
            before = self._files.get(path, (b"", 0.0))[1]
            self._files[path] = (body, max(time.time(), before + 1.0))

    def fail(self, path: str, *faults: Fault) -> None:
        """The next requests to `path` meet these faults, one each, in order."""
        with self._lock:
            self._faults.setdefault(path, deque()).extend(faults)

    def fail_always(self, path: str, fault: Fault) -> None:
        with self._lock:
            self._always[path] = fault

    def requests(self, path: str | None = None) -> list[Logged]:
        with self._lock:
            return [r for r in self.log if path is None or r.path == path]

    def statuses(self, path: str) -> list[int]:
        return [r.status for r in self.requests(path)]

    def clear_log(self) -> None:
        with self._lock:
            self.log.clear()

    def _next_fault(self, path: str) -> Fault:
        with self._lock:
            queued = self._faults.get(path)
            if queued:
                return queued.popleft()
            return self._always.get(path, Fault())

    def _content(self, path: str) -> tuple[bytes, float] | None:
        with self._lock:
            if path in self._files:
                return self._files[path]
        if self.root is None:
            return None
        file = (self.root / path.lstrip("/")).resolve()
        if not file.is_relative_to(self.root) or not file.is_file():
            return None
        return file.read_bytes(), file.stat().st_mtime

    def _record(self, entry: Logged) -> None:
        with self._lock:
            self.log.append(entry)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the Site keeps its own log."""

    def do_GET(self) -> None:
        site: Site = self.server.site  # type: ignore[attr-defined]
        path = unquote(urlsplit(self.path).path)
        request = {name.lower(): value for name, value in self.headers.items()}
        fault = site._next_fault(path)
        status, headers, body = self._response(site, path, request, fault)
        site._record(Logged("GET", path, status, request))
        try:
            time.sleep(fault.stall)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if fault.truncate:
                self.wfile.write(body[: len(body) // 2])
                self.close_connection = True
                return
            step = 1024 if fault.drip else max(len(body), 1)
            for start in range(0, len(body), step):
                time.sleep(fault.drip)
                self.wfile.write(body[start : start + step])
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (a timeout under test)

    def _response(
        self, site: Site, path: str, request: dict[str, str], fault: Fault
    ) -> tuple[int, dict[str, str], bytes]:
        headers = dict(fault.headers)
        if fault.status is not None:
            status = HTTPStatus(fault.status)
            return status, headers, b"" if status == 304 else f"{status} {status.phrase}\n".encode()
        content = site._content(path)
        if content is None:
            return 404, headers, b"404 Not Found\n"
        body, modified = content
        if fault.body is not None:
            body = fault.body
        tag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
        stamp = email.utils.formatdate(int(modified), usegmt=True)
        if site.etag:
            headers["ETag"] = tag
        if site.last_modified:
            headers["Last-Modified"] = stamp
        if _not_modified(site, request, tag, int(modified)):
            return 304, headers, b""
        headers["Content-Type"] = fault.content_type or CONTENT_TYPES.get(Path(path).suffix, "application/octet-stream")
        if site.gzip and "gzip" in request.get("accept-encoding", "") and "Content-Encoding" not in headers:
            body = gzip.compress(body, mtime=0)
            headers["Content-Encoding"] = "gzip"
            headers["Vary"] = "Accept-Encoding"
        return 200, headers, body


def _not_modified(site: Site, request: dict[str, str], tag: str, modified: int) -> bool:
    """RFC 9110: If-None-Match decides when both validators are sent."""
    if "if-none-match" in request:
        return site.etag and tag in [t.strip() for t in request["if-none-match"].split(",")]
    since = request.get("if-modified-since")
    if since and site.last_modified:
        try:
            return modified <= email.utils.parsedate_to_datetime(since).timestamp()
        except (TypeError, ValueError):
            return False
    return False
