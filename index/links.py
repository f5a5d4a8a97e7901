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


def deep_link(link: str | None, seconds: float, template: str | None = None) -> str | None:
    """The URL of `link` at `seconds`, or None when the episode has no link.

    YouTube ignores `#t=`, so YouTube links always get a `t` query parameter instead of the template.
    """
    if not link:
        return None
    whole = max(0, int(seconds))
    parts = urlsplit(link)
    if parts.hostname in _YOUTUBE_HOSTS:
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "t"]
        query.append(("t", f"{whole}s"))
        return urlunsplit(parts._replace(query=urlencode(query), fragment=""))
    template = template or DEFAULT_TEMPLATE
    if "{link}#" in template:
        link = urlunsplit(parts._replace(fragment=""))
    return template.format(link=link, seconds=whole, hms=format_clock(whole))


def check_template(template: str) -> str:
    """Reject a template with unknown placeholders at configuration time, not at the first answer."""
    try:
        template.format(link="https://example.com/e/1", seconds=1, hms="0:01")
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(f"link template {template!r}: use only {{link}}, {{seconds}} and {{hms}}") from exc
    if "{link}" not in template:
        raise ValueError(f"link template {template!r} must contain {{link}}")
    return template
