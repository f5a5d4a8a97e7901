"""Deep links that jump to a moment of an episode."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

DEFAULT_TEMPLATE = "{link}#t={seconds}"
_YOUTUBE_HOSTS = {"youtube.com", "www.youtube.com", "m.youtube.com", "youtu.be", "music.youtube.com"}


def format_clock(seconds: float) -> str:
    """`M:SS` under an hour, `H:MM:SS` above: never wraps to 0 after 59:59."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def web_url(url: str | None) -> str | None:
    """`url` when it is an http(s) URL with a host, else None: a feed's `javascript:` or `file:` link is no link
    (and Discord refuses a whole message whose embed carries one)."""
    try:
        parts = urlsplit(url or "")
    except ValueError:
        return None
    return url if parts.scheme.lower() in ("http", "https") and parts.hostname else None


def deep_link(link: str | None, seconds: float, template: str | None = None) -> str | None:
    """The URL of `link` at `seconds`, or None when the episode has no web link.

    YouTube ignores `#t=`, so YouTube links always get a `t` query parameter instead of the template. A
    template's `?` after `{link}` becomes `&` when the link has a query already, and a fragment of the link
    goes (it would swallow what the template adds).
    """
    if not web_url(link):
        return None
    assert link is not None
    whole = max(0, int(seconds))
    parts = urlsplit(link)
    if parts.hostname in _YOUTUBE_HOSTS:
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "t"]
        query.append(("t", f"{whole}s"))
        return urlunsplit(parts._replace(query=urlencode(query), fragment=""))
    template = template or DEFAULT_TEMPLATE
    if "{link}#" in template or "{link}?" in template:
        link = urlunsplit(parts._replace(fragment=""))
    if "{link}?" in template and parts.query:
        template = template.replace("{link}?", "{link}&")
    return web_url(template.format(link=link, seconds=whole, hms=format_clock(whole)))


def check_template(template: str) -> str:
    """Reject a template with unknown placeholders at configuration time, not at the first answer."""
    try:
        template.format(link="https://example.com/e/1", seconds=1, hms="0:01")
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(f"link template {template!r}: use only {{link}}, {{seconds}} and {{hms}}") from exc
    if "{link}" not in template:
        raise ValueError(f"link template {template!r} must contain {{link}}")
    if not web_url(template.format(link="https://example.com/e/1", seconds=1, hms="0:01")):
        raise ValueError(f"link template {template!r} must make an http(s) URL, e.g. {{link}}#t={{seconds}}")
    return template
