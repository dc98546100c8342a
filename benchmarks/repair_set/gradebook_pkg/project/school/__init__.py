"""Course records."""

from school.gradebook import Gradebook

__all__ = ["Gradebook"]
