"""LangChain and LangGraph surfaces: a chat model, a reasoning subgraph, workflow tools."""
