"""The planner-executor loop (agent/loop/core.py) and the phases and checks it is made of."""

from agent.loop.core import AgentLoop, Budgets, ContextTooSmall, LoopState, StopRun, Trial

__all__ = ["AgentLoop", "Budgets", "ContextTooSmall", "LoopState", "StopRun", "Trial"]
