from linalg import Matrix


def test_transpose_tall():
    assert Matrix([[1], [2], [3]]).transpose().rows == [[1, 2, 3]]


def test_double_transpose():
    m = Matrix([[1, 2, 3, 4], [5, 6, 7, 8]])
    assert m.transpose().transpose().rows == m.rows


def test_multiply_rectangular():
    a = Matrix([[1, 2], [3, 4], [5, 6]])
    b = Matrix([[1, 0, 2], [0, 1, 3]])
    assert a.multiply(b).rows == [[1, 2, 8], [3, 4, 18], [5, 6, 28]]
