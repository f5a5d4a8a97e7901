import pytest

from index.links import check_template, deep_link, format_clock


@pytest.mark.parametrize(
    ("seconds", "clock"),
    [(0, "0:00"), (59.9, "0:59"), (61, "1:01"), (3599, "59:59"), (3600, "1:00:00"), (3725, "1:02:05"), (-3, "0:00")],
)
def test_clock_shows_hours_only_when_needed(seconds, clock):
    assert format_clock(seconds) == clock


def test_default_template_uses_media_fragment():
    assert deep_link("https://show.example/ep/7", 125.8) == "https://show.example/ep/7#t=125"


def test_existing_fragment_is_replaced_not_stacked():
    assert deep_link("https://show.example/ep/7#player", 10) == "https://show.example/ep/7#t=10"


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        ("https://www.youtube.com/watch?v=abc", "https://www.youtube.com/watch?v=abc&t=3725s"),
        ("https://youtu.be/abc", "https://youtu.be/abc?t=3725s"),
        ("https://www.youtube.com/watch?v=abc&t=5s", "https://www.youtube.com/watch?v=abc&t=3725s"),
    ],
)
def test_youtube_links_get_a_t_parameter(link, expected):
    assert deep_link(link, 3725, "{link}#t={seconds}") == expected


def test_custom_template_placeholders():
    assert deep_link("https://x.example/e", 3725, "{link}?start={seconds}&at={hms}") == (
        "https://x.example/e?start=3725&at=1:02:05"
    )


def test_a_query_template_joins_a_link_that_has_a_query_or_a_fragment():
    template = "{link}?start={seconds}"
    assert deep_link("https://x.example/player?ep=42", 65.9, template) == "https://x.example/player?ep=42&start=65"
    assert deep_link("https://x.example/ep/42#comments", 65.9, template) == "https://x.example/ep/42?start=65"


@pytest.mark.parametrize("link", [None, "", "javascript:alert(1)", "file:///etc/passwd", "https://", "http://[::1"])
def test_no_web_link_no_url(link):
    assert deep_link(link, 10) is None


@pytest.mark.parametrize(
    "template", ["{url}#t={seconds}", "https://x/{seconds}", "{link}{0}", "{link}{", "javascript:alert(1)//{link}"]
)
def test_bad_templates_are_refused_up_front(template):
    with pytest.raises(ValueError, match="template"):
        check_template(template)
