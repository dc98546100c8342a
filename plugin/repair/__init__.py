"""Autonomous code repair: read the project, localise the fault, search edits (model hunks and
mutation operators) verified by the project's tests in the sandbox, and the `ponder repair` command."""
