from wrap import wrap


def test_lines_never_exceed_width():
    text = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod"
    for width in range(12, 30):
        lines = wrap(text, width)
        assert all(len(line) <= width for line in lines)
        assert " ".join(lines) == text


def test_long_word_kept_whole():
    assert wrap("a extraordinarily b", 5) == ["a", "extraordinarily", "b"]


def test_empty():
    assert wrap("   ", 5) == []
