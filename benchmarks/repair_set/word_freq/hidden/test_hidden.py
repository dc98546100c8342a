from wordfreq import normalize, top_words


def test_bare_punctuation_dropped():
    assert normalize("wait - what ?!") == ["wait", "-", "what"]


def test_ties_alphabetical():
    assert top_words("b a c b a c", 2) == ["a", "b"]


def test_case_folded_counts():
    assert top_words("Dog dog DOG cat", 1) == ["dog"]
