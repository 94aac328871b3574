"""Reading the model's plan and ticking it by observed progress (agent/loop/planning.py)."""

from __future__ import annotations

from agent.loop.planning import step_kind, tick


def test_plan_steps_are_classified_by_their_first_action_word() -> None:
    assert step_kind("Read the test file") == "inspect"
    assert step_kind("Run the tests") == "test"
    assert step_kind("Add a test for the even case") == "edit"
    assert step_kind("Verify the fix") == "test"
    assert step_kind("Think hard") == "other"


def test_ticks_follow_evidence_in_order() -> None:
    plan = ["Think it over", "Read stats.py", "Fix the even case", "Run the tests"]
    assert tick(plan, [], "edit") == [0, 2]  # the edit ticks its step and the vague one before
    assert tick(plan, [0, 2], "inspect") == [0, 1, 2]
    assert tick(plan, [0, 1, 2], "inspect") == [0, 1, 2]  # no second read step: nothing changes
    assert tick(plan, [0, 1, 2], "test") == [0, 1, 2, 3]
