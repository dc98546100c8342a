"""Maths and word problems as a verified search, and the `ponder solve` command."""
