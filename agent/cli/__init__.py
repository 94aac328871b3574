"""The `agent` command: one module per subcommand, assembled by main.py. `main` is the console
script's entry point (`agent.cli:main`); `python -m agent.cli` runs it too (__main__.py)."""

from agent.cli.main import main

__all__ = ["main"]
