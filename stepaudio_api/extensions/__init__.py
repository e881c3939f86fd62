"""What plugins add besides engines: voice packs, dialect packs and server-side tools."""
