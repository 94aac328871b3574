"""The Textual TUI: watch the agent work, steer it mid-run, approve commands, review its change.

`agent` (in a terminal), `agent tui [--resume [ID]]` and `agent fix "..." --tui` open it; the app is
a client of the same `RunEvent`s as the headless output (see `agent.tui.app`).
"""
