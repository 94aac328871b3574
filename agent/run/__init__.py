"""One task from start to report: the run (fix.py), its worktree, report, session log and undo, and
what the repository tells the model (AGENTS.md)."""
