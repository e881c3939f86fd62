"""The store: what the platform remembers (keys, usage, voices, sessions, batches)."""
