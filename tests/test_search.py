import re

from index.search import Filters, Searcher, SearchOptions

SPEAKERS = {"Priya Raman", "Tom Okafor", "Marta Lindqvist", "Hannah Oyelaran", "Rosa Delgado", "Noor Haddad"}


def overlaps(hit, start, end):
    return hit.start < end and start < hit.end


def test_the_backup_question_finds_the_moment_shelfcopy_is_recommended(sample_searcher):
    hits = sample_searcher.search("What backup tool does Marta recommend?", k=3)
    assert len(hits) == 3
    good = [h for h in hits if overlaps(h, 212, 240)]  # 3:32–4:00 in samples/transcripts/001-…vtt
    assert good, [(h.start, h.end) for h in hits]
    hit = good[0]
    assert hit is hits[0]
    assert hit.source_file == "001-sqlite-in-production.vtt"
    assert hit.episode_title == "SQLite in Production"
    match = re.fullmatch(r"https://tinystack\.example/episodes/1#t=(\d+)", hit.url)
    assert match and hit.start <= int(match.group(1)) <= hit.end
    assert "shelfcopy" in " ".join(s.text for s in hit.quote).lower()


def test_hits_quote_their_best_sentences_and_link_to_them(sample_searcher):
    hits = sample_searcher.search("why does the guest prefer quotes to summaries?", k=5)
    assert hits
    for hit in hits:
        assert hit.quote, hit
        quote = " ".join(s.text for s in hit.quote)
        assert quote in hit.text  # extractive: the quote is the transcript's own words
        assert hit.start <= hit.quote_start <= hit.end
        assert hit.url.endswith(f"#t={int(hit.quote_start)}")
        assert set(hit.speakers) <= SPEAKERS


def test_results_from_one_episode_never_overlap(sample_searcher):
    hits = sample_searcher.search("SQLite in production", k=8)
    assert len(hits) == 8
    for i, a in enumerate(hits):
        for b in hits[i + 1 :]:
            assert a.episode_id != b.episode_id or not overlaps(a, b.start, b.end), (a.start, a.end, b.start, b.end)


def test_hits_come_in_falling_score_unless_the_episode_contrast_reorders_them(sample_index, real_embedder):
    """The contrast orders moments by the words that set them apart in their episode; it never changes a score."""
    plain = Searcher.open(sample_index, real_embedder, options=SearchOptions(episode_contrast=0))
    contrasted = Searcher.open(sample_index, real_embedder)
    try:
        before = plain.search("SQLite in production", k=8, quotes=False)
        after = contrasted.search("SQLite in production", k=8, quotes=False)
    finally:
        plain.close()
        contrasted.close()
    scores = [h.score for h in before]
    assert scores == sorted(scores, reverse=True)
    assert [h.chunk_id for h in after] != [h.chunk_id for h in before]  # this question is one it reorders
    shared = {h.chunk_id for h in after} & {h.chunk_id for h in before}
    assert shared and all(a.score == b.score for a in after for b in before if a.chunk_id == b.chunk_id in shared)


def test_paging_continues_where_the_first_page_ended(sample_searcher):
    first = sample_searcher.search("testing", k=3)
    second = sample_searcher.search("testing", k=3, offset=3)
    assert len(first) == len(second) == 3
    assert {h.chunk_id for h in first}.isdisjoint(h.chunk_id for h in second)
    assert first[-1].score >= second[0].score


def test_filters_restrict_results(sample_searcher):
    marta = sample_searcher.search("backups", k=5, filters=Filters(speaker="Marta Lindqvist"))
    assert marta and all("Marta Lindqvist" in h.speakers for h in marta)
    # The quote is theirs too, even where someone else says the best-matching sentence.
    tom = sample_searcher.search("how do you back up sqlite", k=3, filters=Filters(speaker="tom okafor"))
    assert tom and {q.speaker for h in tom for q in h.quote} == {"Tom Okafor"}
    assert sample_searcher.search("backups", filters=Filters(podcasts=("No Such Show",))) == []
    either = sample_searcher.search("backups", k=2, filters=Filters(podcasts=("No Such Show", "The Tiny Stack")))
    assert len(either) == 2 and {h.podcast for h in either} == {"The Tiny Stack"}
    episode = sample_searcher.search("moderation", k=2, filters=Filters(episode="tinystack-003"))
    assert len(episode) == 2 and {h.episode_title for h in episode} == {"Running a Discord Community"}


def test_blank_question_returns_nothing(sample_searcher):
    assert sample_searcher.search("   \n ") == []


def test_a_page_under_the_floor_still_says_how_near_the_best_passage_came(sample_searcher):
    best = sample_searcher.search_page("What backup tool does Marta recommend?", k=1)
    floored = sample_searcher.search_page("What backup tool does Marta recommend?", k=1, min_score=0.99)
    assert floored.hits == [] and not floored.has_more
    assert floored.top_score == best.top_score == best.hits[0].score


def test_a_question_that_names_its_episode_is_answered_from_that_episode(sample_searcher):
    question = "what went wrong with the test?"
    named = {
        "on the discord community episode": "Running a Discord Community",
        "in the packaging one": "Packaging Python Apps",
        "in the podcast search episode": "Search for Podcasts",
        "on the sqlite episode": "SQLite in Production",
    }
    for reference, title in named.items():
        hits = sample_searcher.search(f"{reference}, {question}", k=3)
        assert hits and hits[0].episode_title == title, (reference, [h.episode_title for h in hits])


def test_naming_the_episode_orders_the_answers_and_leaves_their_scores_similarities(sample_index, real_embedder):
    searcher = Searcher.open(sample_index, real_embedder, options=SearchOptions(reference_boost=5.0))
    hits = searcher.search("on the packaging episode, what went wrong with the test?", k=3)
    assert hits[0].episode_title == "Packaging Python Apps"
    assert all(0 < h.score <= 1 for h in hits)  # shown as "match" and judged by the floor: never the boost
    searcher.close()


def test_the_words_naming_the_episode_do_not_pull_the_answer_to_its_introduction(sample_searcher):
    # Embedded whole, "sqlite in production" matches the intro (0:02) best, where the title is said.
    hits = sample_searcher.search("in the sqlite in production episode, what do they run the tests on?", k=3)
    assert overlaps(hits[0], 248, 257), [(h.start, h.end) for h in hits]  # 4:08-4:17, "the test suite against it"
