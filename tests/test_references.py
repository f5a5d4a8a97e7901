"""The episode a question names up front is told apart from what it asks."""

import pytest

from index.references import split_reference


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


def test_a_very_long_question_is_split_at_once_or_left_whole():
    long_reference = "in the " + "very " * 2000 + "long episode, what was said?"
    assert split_reference(long_reference) == (None, long_reference)  # a reference is at most 60 characters
    rest = "what did they say? " * 500
    assert split_reference("in the docker episode, " + rest) == ("docker", rest.strip())
