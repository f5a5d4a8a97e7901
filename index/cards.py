"""What an episode card shows besides the episode's own fields: its chapters and related episodes, with links."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from index.store import ChapterRow, EpisodeRow, Store

RELATED_SHOWN = 5


@dataclass(frozen=True, slots=True)
class ChapterLink:
    title: str
    start: float
    url: str | None  # deep link to the chapter's start
    auto: bool


@dataclass(frozen=True, slots=True)
class RelatedLink:
    episode: EpisodeRow
    chapter: ChapterLink | None  # the chapter of that episode nearest to this one: why it is related


@dataclass(frozen=True, slots=True)
class EpisodeCard:
    episode: EpisodeRow
    chapters: list[ChapterLink]
    related: list[RelatedLink]

    @property
    def auto_chapters(self) -> bool:
        return bool(self.chapters) and all(c.auto for c in self.chapters)


def episode_card(
    store: Store,
    episode: EpisodeRow,
    link: Callable[[EpisodeRow, float], str | None],
    *,
    podcasts: Sequence[str] = (),
) -> EpisodeCard:
    """The card of `episode`; related episodes only from `podcasts` when given (the channel's scope)."""

    def chapter_link(owner: EpisodeRow, chapter: ChapterRow) -> ChapterLink:
        return ChapterLink(chapter.title, chapter.start, link(owner, chapter.start), chapter.auto)

    related = [
        RelatedLink(r.episode, chapter_link(r.episode, r.chapter) if r.chapter else None)
        for r in store.related(episode)
        if not podcasts or r.episode.podcast in podcasts
    ]
    chapters = [chapter_link(episode, c) for c in store.chapters(episode)]
    return EpisodeCard(episode, chapters, related[:RELATED_SHOWN])
