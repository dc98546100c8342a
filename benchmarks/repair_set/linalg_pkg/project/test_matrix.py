import pytest
from linalg import Matrix


def test_transpose_square():
    assert Matrix([[1, 2], [3, 4]]).transpose().rows == [[1, 3], [2, 4]]


def test_transpose_wide():
    assert Matrix([[1, 2, 3], [4, 5, 6]]).transpose().rows == [[1, 4], [2, 5], [3, 6]]


def test_multiply():
    a = Matrix([[1, 2, 3]])
    b = Matrix([[1], [0], [2]])
    assert a.multiply(b).rows == [[7]]


def test_shape_mismatch():
    with pytest.raises(ValueError):
        Matrix([[1, 2]]).multiply(Matrix([[1, 2]]))
