"""msgspec Structs of the wire formats, with OpenAI's field names and order."""
