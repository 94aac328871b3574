"""The planner-executor loop that fixes a task with tool calls, and the helpers it is made of.

How to read it: core.py first (`AgentLoop.run -> step -> query -> execute`; `_start` lists every
helper and what it gets). Helpers share a `Run` (state.py: the state, budgets, events, clock) and
never call back into the loop: turns.py (a model turn, the user's interruptions), window.py (the
prompt fits), checks.py (the loop's own test runs, the finish refusal), repeats.py (going round in
circles), attempts.py (start again, keep the best), sampling.py (an edit against other draws),
repair.py (draft-and-test before the tool loop). errors.py holds every way a run stops; base.py
the boundaries (`Tools`, `Worktree`).
"""

from agent.loop.base import Tools, Toolset, Worktree
from agent.loop.core import AgentLoop
from agent.loop.errors import ContextTooSmall, Finished, LimitsExceeded, StoppedByUser, StopRun, Stuck
from agent.loop.sampling import Trial
from agent.loop.state import Budgets, LoopState, RepairBudget

__all__ = [
    "AgentLoop",
    "Budgets",
    "ContextTooSmall",
    "Finished",
    "LimitsExceeded",
    "LoopState",
    "RepairBudget",
    "StopRun",
    "StoppedByUser",
    "Stuck",
    "Tools",
    "Toolset",
    "Trial",
    "Worktree",
]
