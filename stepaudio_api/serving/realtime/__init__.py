"""Realtime voice conversation: one session per WebSocket, turn detection, responses."""
