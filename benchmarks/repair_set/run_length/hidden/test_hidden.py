from rle import decode, encode


def test_round_trip():
    for raw in ["a", "ab", "aabbbcccc", "zzzzzzzzzzzzzzzzzzzzzzzzz", "abcabc"]:
        assert decode(encode(raw)) == raw


def test_single_run():
    assert encode("q") == "1q"
