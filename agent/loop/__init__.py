"""The planner-executor loop (agent/loop/core.py) and the phases and checks it is made of."""

from agent.loop.base import Tools, Worktree
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
    "Trial",
    "Worktree",
]
