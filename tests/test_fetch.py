"""The downloader against a real HTTP server on 127.0.0.1: caching, revalidation, retries and every fault."""

import contextlib
import email.utils
import gzip
import socket
import threading
import time
import tracemalloc

import pytest

from index.errors import DownloadError
from index.fetch import USER_AGENT, Fetcher, Validators
from index.parsing import parse_transcript
from tests.http_server import Fault, Site

VTT = b"WEBVTT\n\n00:00:00.000 --> 00:00:04.000\n<v Ann>Welcome to the show about tomatoes.\n"
PATH = "/t/1.vtt"


@pytest.fixture
def site():
    with Site() as served:
        served.put(PATH, VTT)
        yield served


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def make_fetcher(tmp_path, sleeps):
    """Fetchers sharing one cache (one per run, like weekly runs), with short timeouts and no real waits."""
    made = []

    def make(**options):
        settings = {"read_timeout": 0.3, "connect_timeout": 1.0, "retries": 2, "backoff": 0.1, "sleep": sleeps.append}
        made.append(Fetcher(tmp_path / "http", **(settings | options)))
        return made[-1]

    yield make
    for fetcher in made:
        fetcher.close()


def test_an_unchanged_download_costs_one_304_next_time(site, make_fetcher):
    first = make_fetcher().get(site.url(PATH))
    assert (first.body, first.from_cache, first.content_type) == (VTT, False, "text/vtt")
    again = make_fetcher()
    second = again.get(site.url(PATH))
    assert (second.body, second.from_cache) == (VTT, True)
    assert site.statuses(PATH) == [200, 304]
    asked = site.requests(PATH)
    assert "if-none-match" not in asked[0].headers
    assert asked[1].headers["if-none-match"].startswith('"') and asked[1].headers["if-modified-since"]
    assert all(r.headers["user-agent"] == USER_AGENT for r in asked)
    assert (again.stats.downloaded, again.stats.not_modified, again.stats.failures) == (0, 1, [])


@pytest.mark.parametrize("validators", [{"etag": False}, {"last_modified": False}])
def test_either_validator_alone_revalidates_and_a_change_is_downloaded(make_fetcher, validators):
    with Site(**validators) as site:
        site.put(PATH, VTT)
        make_fetcher().get(site.url(PATH))
        assert make_fetcher().get(site.url(PATH)).from_cache
        site.put(PATH, VTT + b"\n00:00:04.000 --> 00:00:06.000\nAnd peppers.\n")
        changed = make_fetcher().get(site.url(PATH))
        assert not changed.from_cache and changed.body.endswith(b"And peppers.\n")
        assert site.statuses(PATH) == [200, 304, 200]


def test_gzip_is_asked_for_and_undone(site, make_fetcher, tmp_path):
    fetched = make_fetcher().get(site.url(PATH))
    assert site.requests(PATH)[0].headers["accept-encoding"] == "gzip"
    assert fetched.body == VTT
    assert [p.read_bytes() for p in (tmp_path / "http").glob("*.body")] == [VTT]


def test_a_gzip_bomb_stops_at_the_size_cap_without_inflating(site, make_fetcher, tmp_path):
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024), mtime=0)
    assert len(bomb) < 100_000
    site.fail(PATH, Fault(body=bomb, headers={"Content-Encoding": "gzip"}))
    fetcher = make_fetcher(max_bytes=1024 * 1024)
    tracemalloc.start()
    try:
        with pytest.raises(DownloadError, match="larger than the 1 MB limit") as caught:
            fetcher.get(site.url(PATH))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024
    assert caught.value.status == 200
    assert [f.reason for f in fetcher.stats.failures] == ["larger than the 1 MB limit"]
    assert not (tmp_path / "http").exists()


@pytest.mark.parametrize("padding", [b"", b"\0" * 16])
def test_a_body_of_several_gzip_members_is_read_whole(site, make_fetcher, padding):
    half = len(VTT) // 2
    body = gzip.compress(VTT[:half], mtime=0) + gzip.compress(VTT[half:], mtime=0) + padding
    site.fail(PATH, Fault(body=body, headers={"Content-Encoding": "gzip"}))
    assert make_fetcher().get(site.url(PATH)).body == VTT


def test_an_invalid_url_is_a_download_error(make_fetcher):
    with pytest.raises(DownloadError, match="invalid URL"):
        make_fetcher().get("https://[podcast.example/feed.xml")


def test_a_download_that_cannot_be_written_is_a_download_error(site, make_fetcher, tmp_path):
    with pytest.raises(DownloadError, match=r"cannot write it to .*missing \(No such file or directory\)"):
        make_fetcher().download_to(site.url(PATH), tmp_path / "missing" / "audio.part", validators=Validators(),
                                   max_bytes=2**20)  # fmt: skip


def test_a_declared_length_over_the_cap_is_refused_unread(site, make_fetcher):
    site.gzip = False
    site.put(PATH, VTT * 100)
    with pytest.raises(DownloadError, match=f"{len(VTT) * 100} bytes is larger than"):
        make_fetcher(max_bytes=1000).get(site.url(PATH))


def test_server_errors_are_retried_with_exponential_backoff(site, make_fetcher, sleeps):
    site.fail(PATH, Fault(status=500), Fault(status=503))
    fetcher = make_fetcher()
    assert fetcher.get(site.url(PATH)).body == VTT
    assert site.statuses(PATH) == [500, 503, 200]
    assert sleeps == [0.1, 0.2]
    assert fetcher.stats.failures == []


@pytest.mark.parametrize("delay", ["7", "http-date"])
def test_429_waits_as_long_as_retry_after_says(site, make_fetcher, sleeps, delay):
    value = email.utils.formatdate(time.time() + 30, usegmt=True) if delay == "http-date" else delay
    site.fail(PATH, Fault(status=429, headers={"Retry-After": value}))
    assert make_fetcher().get(site.url(PATH)).body == VTT
    assert site.statuses(PATH) == [429, 200]
    expected = 30 if delay == "http-date" else 7
    assert len(sleeps) == 1 and expected - 2 <= sleeps[0] <= expected


def test_a_retry_after_that_is_no_number_is_an_ordinary_backoff(site, make_fetcher, sleeps):
    site.fail(PATH, Fault(status=429, headers={"Retry-After": "²"}), Fault(status=429, headers={"Retry-After": "soon"}))
    assert make_fetcher().get(site.url(PATH)).body == VTT
    assert sleeps == [0.1, 0.2]


def test_a_retry_after_beyond_the_limit_gives_up_at_once(site, make_fetcher, sleeps):
    site.fail(PATH, Fault(status=503, headers={"Retry-After": "3600"}))
    with pytest.raises(DownloadError, match="asked to wait 3600 s") as caught:
        make_fetcher(max_retry_after=60).get(site.url(PATH))
    assert caught.value.status == 503 and sleeps == [] and site.statuses(PATH) == [503]


def test_retries_are_bounded_and_the_failure_is_recorded(site, make_fetcher):
    site.fail_always(PATH, Fault(status=500))
    fetcher = make_fetcher()
    with pytest.raises(DownloadError) as caught:
        fetcher.get(site.url(PATH))
    assert (caught.value.status, caught.value.reason) == (500, "Internal Server Error after 3 attempts")
    assert site.statuses(PATH) == [500, 500, 500]
    (failure,) = fetcher.stats.failures
    assert (failure.url, failure.status, failure.used_cache) == (site.url(PATH), 500, False)
    assert f"{site.url(PATH)}: HTTP 500: Internal Server Error after 3 attempts (nothing cached" in (
        fetcher.stats.summary()
    )


def test_client_errors_are_not_retried(site, make_fetcher, sleeps):
    with pytest.raises(DownloadError) as caught:
        make_fetcher().get(site.url("/missing.vtt"))
    assert (caught.value.status, caught.value.reason) == (404, "Not Found")
    assert site.statuses("/missing.vtt") == [404] and sleeps == []


def test_a_stalled_server_times_out_and_is_retried_a_bounded_number_of_times(site, make_fetcher):
    site.fail_always(PATH, Fault(stall=1.5))
    with pytest.raises(DownloadError, match=r"read timeout\) after 2 attempts") as caught:
        make_fetcher(retries=1).get(site.url(PATH))
    assert caught.value.status is None and len(site.requests(PATH)) == 2


def test_a_slow_drip_is_cut_off_by_the_total_timeout(site, make_fetcher):
    site.gzip = False
    site.put(PATH, VTT * 200)
    site.fail(PATH, Fault(drip=0.05))
    with pytest.raises(DownloadError, match=r"still downloading after 0\.3 s"):
        make_fetcher(total_timeout=0.3).get(site.url(PATH))


def test_headers_sent_a_byte_at_a_time_are_cut_off_by_the_headers_timeout(site, make_fetcher):
    """Each byte comes well within the read timeout, so only the wait for the whole header block can end it."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def drip() -> None:
        with server:
            while not stop.is_set():
                connection, _ = server.accept()
                with connection, contextlib.suppress(ConnectionError):  # the client hangs up: what is tested
                    connection.recv(4096)
                    connection.sendall(b"HTTP/1.1 200 OK\r\n")
                    while not stop.wait(0.05):
                        connection.sendall(b"X")

    threading.Thread(target=drip, daemon=True).start()
    fetcher = make_fetcher(headers_timeout=0.5)
    url = f"http://127.0.0.1:{server.getsockname()[1]}/feed.xml"
    try:
        with pytest.raises(DownloadError, match=r"no response within 0\.5 s"):
            fetcher.get(url)
    finally:
        stop.set()
    assert fetcher.get(site.url(PATH)).body == VTT  # the fetcher goes on with a fresh connection pool


def test_a_truncated_body_is_retried_and_never_cached(site, make_fetcher, tmp_path):
    site.fail(PATH, Fault(truncate=True))
    assert make_fetcher().get(site.url(PATH)).body == VTT
    assert site.statuses(PATH) == [200, 200]

    site.put("/cut.vtt", VTT)
    site.fail_always("/cut.vtt", Fault(truncate=True))
    fetcher = make_fetcher()
    with pytest.raises(DownloadError, match="cut short"):
        fetcher.get(site.url("/cut.vtt"))
    assert fetcher.cached(site.url("/cut.vtt")) is None


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (Fault(body=b""), "empty response"),
        (Fault(body=b"x", headers={"Content-Encoding": "br"}), "unsupported Content-Encoding 'br'"),
        (Fault(body=b"not gzip at all", headers={"Content-Encoding": "gzip"}), "corrupt gzip data"),
        (Fault(body=gzip.compress(VTT * 50)[:-30], headers={"Content-Encoding": "gzip"}), "gzip stream was cut short"),
    ],
)
def test_unusable_200s_fail_and_keep_the_cached_copy(site, make_fetcher, fault, reason):
    make_fetcher().get(site.url(PATH))
    site.fail(PATH, fault)
    fetcher = make_fetcher()
    fetched = fetcher.get(site.url(PATH))
    assert (fetched.body, fetched.from_cache) == (VTT, True)
    (failure,) = fetcher.stats.failures
    assert failure.status == 200 and reason in failure.reason and failure.used_cache
    assert fetcher.cached(site.url(PATH)).body == VTT


def test_a_failed_revalidation_serves_the_copy_an_earlier_run_cached(site, make_fetcher):
    make_fetcher().get(site.url(PATH))
    site.fail_always(PATH, Fault(status=503))
    fetcher = make_fetcher()
    fetched = fetcher.get(site.url(PATH))
    assert (fetched.body, fetched.from_cache) == (VTT, True)
    assert (fetcher.stats.from_cache, fetcher.stats.failures[0].used_cache) == (1, True)
    assert "HTTP 503: Service Unavailable after 3 attempts (used the copy cached by an earlier run)" in (
        fetcher.stats.summary()
    )


def test_a_body_that_fails_its_check_never_replaces_the_cached_copy(site, make_fetcher):
    def check(body):
        return parse_transcript(body, "1.vtt")

    make_fetcher().get(site.url(PATH), check=check)
    site.put(PATH, b"<html><body><h1>Maintenance</h1></body></html>")
    fetcher = make_fetcher()
    assert fetcher.get(site.url(PATH), check=check).body == VTT
    assert fetcher.cached(site.url(PATH)).body == VTT
    assert "unusable response: 1.vtt: HTML without <cite>, <time> or <p>" in fetcher.stats.failures[0].reason


def test_a_304_without_a_cached_copy(site, make_fetcher, tmp_path):
    site.fail(PATH, Fault(status=304))
    with pytest.raises(DownloadError, match="named no cached copy") as caught:
        make_fetcher().get(site.url(PATH))
    assert caught.value.status == 304

    make_fetcher().get(site.url(PATH))  # cached now; the copy vanishes while the server thinks about it
    site.fail(PATH, Fault(stall=0.3))
    (body,) = (tmp_path / "http").glob("*.body")
    threading.Timer(0.1, body.unlink).start()
    fetched = make_fetcher(read_timeout=2.0).get(site.url(PATH))
    assert (fetched.body, fetched.from_cache) == (VTT, False)
    assert site.statuses(PATH)[-2:] == [304, 200]
    assert "if-none-match" not in site.requests(PATH)[-1].headers


def test_redirects_are_followed_and_the_final_url_is_kept(site, make_fetcher):
    site.fail_always("/old.vtt", Fault(status=301, headers={"Location": PATH}))
    fetched = make_fetcher().get(site.url("/old.vtt"))
    assert fetched.url == site.url(PATH) and fetched.body == VTT
    assert make_fetcher().cached(site.url("/old.vtt")).url == site.url(PATH)


def test_a_redirect_loop_fails_without_retries(site, make_fetcher, sleeps):
    site.fail_always("/loop", Fault(status=302, headers={"Location": "/loop"}))
    fetcher = make_fetcher()
    with pytest.raises(DownloadError, match="TooManyRedirects"):
        fetcher.get(site.url("/loop"))
    assert len(site.requests("/loop")) == 6 and sleeps == []
    assert len(fetcher.stats.failures) == 1


def test_a_dead_host_is_given_up_after_a_few_failures(make_fetcher):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    fetcher = make_fetcher(retries=0, max_host_failures=2)
    for number in range(3):
        with pytest.raises(DownloadError):
            fetcher.get(f"{dead}/{number}.vtt")
    reasons = [f.reason for f in fetcher.stats.failures]
    assert reasons[0].startswith("ConnectError") and reasons[1].startswith("ConnectError")
    assert reasons[2] == f"not tried: the last 2 downloads from {dead.removeprefix('http://')} failed"


def test_a_dry_run_fetcher_writes_nothing_and_archived_copies_are_read_without_asking(site, make_fetcher, tmp_path):
    assert make_fetcher(store=False).get(site.url(PATH)).body == VTT
    assert not (tmp_path / "http").exists()

    make_fetcher().get(site.url(PATH))
    fetcher = make_fetcher()
    assert fetcher.get(site.url(PATH), revalidate=False).from_cache
    assert site.statuses(PATH) == [200, 200] and fetcher.stats.from_cache == 1
