import random
from pathlib import Path

from index.boilerplate import flag_boilerplate, shingles
from index.build import chunk_episodes, prepare_episode
from index.chunking import ChunkerSettings
from index.episodes import read_feed
from tests.helpers import CORPUS

AD = (
    "This episode is brought to you by Acme Cloud, the simplest way to run your servers without a pager. "
    "Sign up today at acme dot example slash podcast and get one hundred dollars of credit for your first month. "
    "Acme Cloud gives you managed databases, backups and a friendly support team that answers within the hour."
)
TOPICS = ["beekeeping in cities", "sourdough starters", "restoring old bicycles", "tidal energy", "chess openings"]


def unique(topic: str, n: int) -> list[str]:
    """Sentences no other episode shares six words of: random pseudo-words seeded by the topic."""
    rng = random.Random(topic)
    syllables = ["ka", "lo", "mi", "ne", "su", "ta", "ri", "po", "ve", "zu", "ba", "do"]
    word = lambda: "".join(rng.choice(syllables) for _ in range(3))  # noqa: E731
    return [" ".join(word() for _ in range(16)).capitalize() + "." for _ in range(n)]


def test_a_sponsor_read_repeated_in_several_episodes_is_flagged_and_unique_content_never_is():
    ad = AD.split(". ")
    episodes = [unique(t, 5) + ad + unique(t + " again", 5) for t in TOPICS]
    flags = flag_boilerplate(episodes)
    for sentences, episode_flags in zip(episodes, flags, strict=True):
        assert [f for s, f in zip(sentences, episode_flags, strict=True) if s in ad] == [True] * len(ad)
        assert not any(f for s, f in zip(sentences, episode_flags, strict=True) if s not in ad)


def test_phrases_in_only_two_episodes_or_short_stock_questions_are_not_boilerplate():
    question = "How did you get into programming?"
    episodes = [[*unique(t, 3), question, *unique(t + " more", 3)] for t in TOPICS]
    episodes[0] += AD.split(". ")
    episodes[1] += AD.split(". ")
    assert not any(any(f) for f in flag_boilerplate(episodes))
    assert flag_boilerplate([]) == [] and flag_boilerplate([[]]) == [[]]


def test_real_corpus_intros_and_ads_are_isolated_and_unique_content_is_kept():
    feed = CORPUS / "talkpython" / "feed.xml"
    # #300–#329 open with the same intro and sponsor wording; later episodes reworded it (a second era).
    episodes = [e for e in read_feed(feed.read_bytes(), str(feed)).episodes if e.number < 350]
    prepared = [prepare_episode(e, Path(e.transcript).read_bytes()) for e in episodes]
    chunk_episodes(prepared, ChunkerSettings())
    flagged = [c for p in prepared for c in p.chunks if c.boilerplate]
    kept = [c for p in prepared for c in p.chunks if not c.boilerplate]
    assert flagged and len(flagged) < 0.1 * len(kept)
    assert any("Welcome to Talk Python To Me" in c.text for c in flagged)
    assert not any("Welcome to Talk Python To Me, a weekly podcast" in c.text for c in kept)
    # Every flagged passage is recurring material: most of its phrases are said in other episodes too.
    phrases = {p.episode.episode_id: shingles(" ".join(s.text for s in p.sentences)) for p in prepared}
    for chunk in flagged:
        own = shingles(chunk.text)
        elsewhere = set().union(*(found for e, found in phrases.items() if e != chunk.episode_id))
        assert len(own & elsewhere) >= 0.5 * len(own), chunk.text


def test_single_episode_podcasts_flag_nothing():
    feed = CORPUS / "talkpython" / "feed.xml"
    episode = read_feed(feed.read_bytes(), str(feed)).episodes[0]
    prepared = [prepare_episode(episode, Path(episode.transcript).read_bytes())]
    chunk_episodes(prepared, ChunkerSettings())
    assert not any(c.boilerplate for c in prepared[0].chunks)


def test_a_conversation_of_short_sentences_between_an_intro_and_an_ad_is_content():
    intro = [
        "Welcome to the show where we talk about the people who build the software you use every day.",
        "I am your host and this week we have a guest who knows a great deal about payments and ledgers.",
        "Remember to subscribe wherever you get your podcasts and to tell a friend who would enjoy it too.",
    ]
    ad, chat = AD.split(". "), [
        "Hi Sarah, welcome.", "Thanks for having me.", "So where do you work now?", "I lead the payments team.",
        "What does that mean?", "We move money.", "We rewrote the ledger in Rust.", "Why Rust?",
        "Memory safety, and speed.", "Did it pay off?", "Latency dropped by half.",
    ]  # fmt: skip
    episodes = [intro + chat + ad] + [intro + unique(t, 4) + ad for t in TOPICS[:3]]
    flags = flag_boilerplate(episodes)[0]
    assert flags[: len(intro)] == [True] * len(intro) and flags[-len(ad) :] == [True] * len(ad)
    assert not any(flags[len(intro) : len(intro) + len(chat)])
    short = [[*intro, "Check it out.", *ad] for _ in range(4)]
    assert all(flag_boilerplate(short)[0])  # a stray short sentence inside a read still follows it


def test_sponsor_reads_in_any_script_are_flagged():
    reads = {
        "russian": "Этот выпуск спонсирует компания Акме Клауд. Зарегистрируйтесь сегодня на сайте акме точка пример"
        " и получите сто долларов на первый месяц работы ваших серверов без лишних забот. Акме Клауд даёт вам"
        " управляемые базы данных, резервные копии и дружелюбную поддержку, которая отвечает в течение часа.",
        "chinese": "本期节目由阿克米云赞助播出。今天就在阿克米官方网站注册账号，即可获得一百美元的首月服务器使用额度。",
    }
    for name, read in reads.items():
        episodes = [[*unique(t, 3), read, *unique(t + " more", 3)] for t in TOPICS[:4]]
        flags = flag_boilerplate(episodes)
        assert all(f[3] for f in flags) and not any(any(f[:3] + f[4:]) for f in flags), name
