from pathlib import Path

from wordfreq import normalize, top_words

PASSAGE = (Path(__file__).parent / "passage.txt").read_text()


def test_normalize_strips_and_lowers():
    assert normalize('"Hello," she said.') == ["hello", "she", "said"]


def test_top_words_of_passage():
    assert top_words(PASSAGE, 3) == ["the", "a", "cat"]
