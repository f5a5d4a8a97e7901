from index.wording import plural


def test_counts_take_the_singular_only_for_one():
    assert plural(1, "episode") == "1 episode"
    assert plural(0, "episode") == "0 episodes"
    assert plural(2, "passage") == "2 passages"
    assert plural(1234, "sentence") == "1,234 sentences"
    assert plural(1, "reply", "replies") == "1 reply" and plural(3, "reply", "replies") == "3 replies"
