"""Commands that run ponder's parts: the embedded engine as a server, the sandbox image and checks."""
