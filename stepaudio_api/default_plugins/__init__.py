"""Built-in behaviour, written as plugins of our own hooks (the datasette way)."""
