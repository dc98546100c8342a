from pathlib import Path

import pytest
from rle import decode, encode

SAMPLES = [line.split() for line in (Path(__file__).parent / "samples.txt").read_text().splitlines()]


@pytest.mark.parametrize(("raw", "coded"), SAMPLES)
def test_decode(raw, coded):
    assert decode(coded) == raw


@pytest.mark.parametrize(("raw", "coded"), SAMPLES)
def test_encode(raw, coded):
    assert encode(raw) == coded


def test_empty():
    assert encode("") == ""
