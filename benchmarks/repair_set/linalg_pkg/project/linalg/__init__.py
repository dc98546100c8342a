"""Dense matrices for the layout engine (small sizes, plain lists)."""

from linalg.matrix import Matrix

__all__ = ["Matrix"]
