import re

from index.search import Filters


def overlaps(hit, start, end):
    return hit.start < end and start < hit.end


def test_sqlite_in_production_finds_the_benchmark_discussion(djangochat_searcher):
    hits = djangochat_searcher.search("Can SQLite be used in production?", k=3)
    assert len(hits) == 3
    good = [h for h in hits if overlaps(h, 44 * 60, 47 * 60)]
    assert good, [(h.start, h.end) for h in hits]
    hit = good[0]
    assert hit.source_file == "djangocon-us-2022-recap.txt"
    assert hit.episode_title == "DjangoCon US 2022 Recap"
    match = re.fullmatch(r"https://djangochat\.com/episodes/djangocon-us-2022-recap#t=(\d+)", hit.url)
    assert match and hit.start <= int(match.group(1)) <= hit.end
    assert "sqlite" in hit.text.lower()


def test_hits_quote_their_best_sentences_and_link_to_them(djangochat_searcher):
    for hit in djangochat_searcher.search("What did they think of the COVID policy at the conference?", k=5):
        assert hit.quote, hit
        quote = " ".join(s.text for s in hit.quote)
        assert quote in hit.text  # extractive: the quote is the transcript's own words
        assert hit.start <= hit.quote_start <= hit.end
        assert hit.url.endswith(f"#t={int(hit.quote_start)}")
        assert set(hit.speakers) <= {"Will Vincent", "Carlton Gibson"}


def test_results_from_one_episode_never_overlap(djangochat_searcher):
    hits = djangochat_searcher.search("async views in Django", k=10)
    assert len(hits) == 10
    for i, a in enumerate(hits):
        for b in hits[i + 1 :]:
            assert not overlaps(a, b.start, b.end), (a.start, a.end, b.start, b.end)
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)


def test_paging_continues_where_the_first_page_ended(djangochat_searcher):
    first = djangochat_searcher.search("testing", k=3)
    second = djangochat_searcher.search("testing", k=3, offset=3)
    assert {h.chunk_id for h in first}.isdisjoint(h.chunk_id for h in second)
    assert first[-1].score >= second[0].score


def test_filters_restrict_results(djangochat_searcher):
    carlton = djangochat_searcher.search("conference talks", k=5, filters=Filters(speaker="Carlton Gibson"))
    assert carlton and all("Carlton Gibson" in h.speakers for h in carlton)
    assert djangochat_searcher.search("conference", filters=Filters(podcast="No Such Show")) == []
    episode = djangochat_searcher.search(
        "conference", k=2, filters=Filters(episode="djangochat-djangocon-us-2022-recap")
    )
    assert len(episode) == 2


def test_blank_question_returns_nothing(djangochat_searcher):
    assert djangochat_searcher.search("   \n ") == []
