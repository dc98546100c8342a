from wrap import fill, wrap


def test_short_text_fits():
    assert wrap("hello world", 40) == ["hello world"]


def test_breaks_between_words():
    assert wrap("the quick brown fox jumps", 10) == ["the quick", "brown fox", "jumps"]


def test_fill():
    assert fill("a b c", 3) == "a b\nc"
