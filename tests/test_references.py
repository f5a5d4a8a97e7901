"""The episode a question names up front is told apart from what it asks."""

import pytest

from index.references import show_key, split_reference, split_show


@pytest.mark.parametrize(
    ("question", "reference", "rest"),
    [
        ("in the james webb episode, what happens if data is lost?", "james webb", "what happens if data is lost?"),
        (
            "in the go time game show ep, what was their first language?",
            "go time game show",
            "what was their first language?",
        ),
        ("on django chat, what tech is carlton waiting out?", "django chat", "what tech is carlton waiting out?"),
        ("On the pydantic one didnt someone say it is fast", "pydantic", "didnt someone say it is fast"),
        ("from the  docker  interview: which base image?", "docker", "which base image?"),
    ],
)
def test_a_named_episode_is_split_from_the_question(question, reference, rest):
    assert split_reference(question) == (reference, rest)


@pytest.mark.parametrize(
    "question",
    [
        "What backup tool does Marta recommend?",
        "in python 3.11 what changed about error messages",  # no episode word, no comma: a topic, not a reference
        "in the docker episode, why?",  # too little left to search for
        "on the one hand, on the other",
        "",
    ],
)
def test_questions_that_name_no_episode_are_left_whole(question):
    assert split_reference(question) == (None, question)


@pytest.mark.parametrize("question", ["in general, what do they use for tests?", "On average, how long is an episode?"])
def test_a_one_word_opening_is_not_an_episode(question):
    assert split_reference(question) == (None, question)


@pytest.mark.parametrize(
    "question",
    [
        "On the other hand, what are the downsides of async?",
        "In other words, how does it scale past one server?",
        "in the long run, is the rewrite worth it?",
        "in my experience, do type hints slow you down?",
        "in the last episode, what did they say about async?",  # a date, not words the episode says
        "on the latest one, who was the guest?",
    ],
)
def test_openers_shaped_like_a_reference_name_no_episode(question):
    assert split_reference(question) == (None, question)


def test_a_very_long_question_is_split_at_once_or_left_whole():
    long_reference = "in the " + "very " * 2000 + "long episode, what was said?"
    assert split_reference(long_reference) == (None, long_reference)  # a reference is at most 60 characters
    rest = "what did they say? " * 500
    assert split_reference("in the docker episode, " + rest) == ("docker", rest.strip())


SHOWS = ["Django Chat", "The Tiny Stack", "Changelog Media (selected episodes)", "Go Time", "Go Time Extra"]


@pytest.mark.parametrize(
    ("reference", "show", "rest"),
    [
        ("django chat", "Django Chat", ""),
        ("Django Chat's djangocon recap", "Django Chat", "djangocon recap"),
        ("tiny stack", "The Tiny Stack", ""),  # split_reference has taken "the" already; a listener may not say it
        ("the tiny stack sqlite episode", "The Tiny Stack", "sqlite episode"),
        ("changelog media", "Changelog Media (selected episodes)", ""),
        ("go time extra", "Go Time Extra", ""),  # the longest name that fits
        ("go time's gophers say game", "Go Time", "gophers say game"),
        ("go time: game show", "Go Time", "game show"),
    ],
)
def test_a_reference_that_starts_with_a_show_names_it(reference, show, rest):
    assert split_show(reference, SHOWS) == (show, rest)


@pytest.mark.parametrize("reference", ["django", "djangochat", "go", "talk python", "gopher time", "", "   "])
def test_a_reference_that_is_not_a_show_is_left_alone(reference):
    assert split_show(reference, SHOWS) == (None, reference)


def test_no_shows_or_odd_titles_name_nothing():
    assert split_show("django chat", []) == (None, "django chat")
    assert show_key("(selected episodes)") == show_key("!!!") == ""
    assert split_show("anything at all", ["(selected episodes)", "!!!"]) == (None, "anything at all")


def test_a_very_long_reference_is_matched_at_once():
    long = "django chat " + "very " * 5000
    assert split_show(long, SHOWS * 200) == ("Django Chat", ("very " * 5000).strip())
