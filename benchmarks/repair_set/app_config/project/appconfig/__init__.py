"""Service configuration read from JSON, with dotted keys."""

from appconfig.config import Config

__all__ = ["Config"]
