"""ponder: System-2 reasoning for agents.

The distribution maps its top-level folders onto one namespace (``ponder.plugin``,
``ponder.graph``, ``ponder.verifiers``, ``ponder.sandbox``, ``ponder.backends``) so that no
generic top-level module such as ``graph`` or ``verifiers`` is ever installed.
"""

__version__ = "0.1.0"
