"""Thin Litestar handlers: parse, call serving, shape the response."""
