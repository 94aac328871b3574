"""Many tasks at once: `agent batch` (runs and predictions) and `agent eval` (runs, scored by tests)."""
