"""`ponder serve`: the OpenAI-compatible chat server whose answers are searches."""
