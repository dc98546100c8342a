"""The root exception shared by every ponder package.

It lives in the namespace root (not in any one subpackage) so that `ponder.sandbox` can
subclass it without importing LLM code, keeping the package boundaries one-way.
"""


class PonderError(Exception):
    """Root of all ponder exceptions: catch this to catch everything ponder raises on purpose."""
