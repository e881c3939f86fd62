"""One object per capability; knows nothing of HTTP."""
