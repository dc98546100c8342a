"""`ponder mcp`: ponder's workflows as Model Context Protocol tools."""
