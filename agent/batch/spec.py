"""One task record, whichever task set it comes from."""

from __future__ import annotations

from pydantic import AliasChoices, BaseModel, ConfigDict, Field


class TaskSpec(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(validation_alias=AliasChoices("id", "instance_id"))
    issue: str = Field(validation_alias=AliasChoices("issue", "problem_statement", "task"))
    repo: str | None = None
    base_commit: str | None = None
    test_cmd: str | None = None
    test_files: list[str] = []
    fail_to_pass: list[str] = []
    pass_to_pass: list[str] = []
    gold_files: list[str] = []
