"""Verified financial analysis over tables and text, and the `ponder analyze` command."""
