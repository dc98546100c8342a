"""Word frequencies for the search index's stop-word review."""

from collections import Counter

PUNCTUATION = ".,;:!?\"'()"


def normalize(text: str) -> list[str]:
    """Lower-case words with surrounding punctuation removed; bare punctuation is dropped."""
    words = []
    for word in text.split():
        cleaned = word.strip(PUNCTUATION).lower()
        if cleaned:
            words.append(word)
    return words


def top_words(text: str, n: int) -> list[str]:
    """The `n` most frequent words, ties broken alphabetically."""
    counts = Counter(normalize(text))
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [word for word, _ in ranked[:n]]
