"""A row-major matrix of floats."""


class Matrix:
    def __init__(self, rows: list[list[float]]) -> None:
        if len({len(r) for r in rows}) > 1:
            raise ValueError("all rows need the same length")
        self.rows = [list(r) for r in rows]

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.rows), len(self.rows[0]) if self.rows else 0

    def transpose(self) -> "Matrix":
        n_rows, n_cols = self.shape
        out = [[0.0] * n_rows for _ in range(n_cols)]
        for r in range(n_rows):
            for c in range(n_cols):
                out[c][r] = self.rows[r][c]
        return Matrix(out)

    def multiply(self, other: "Matrix") -> "Matrix":
        n, m = self.shape
        m2, p = other.shape
        if m != m2:
            raise ValueError(f"cannot multiply {n}x{m} by {m2}x{p}")
        cols = other.transpose().rows
        return Matrix(
            [[sum(a * b for a, b in zip(row, col, strict=True)) for col in cols] for row in self.rows]
        )
