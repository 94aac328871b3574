"""The config sections whose keys a file holds at its top level (`max_steps = 20`, `repair = "off"`).

Each field's docstring is its description: docs/configuration.md is generated from them
(scripts/config_reference.py), and tests/cli/test_config_reference.py fails on a field without one.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agent.formats import ToolFormatName
from agent.mcp.config import McpServerConfig
from agent.models.knobs import KvCacheType, ModelKnobs, Thinking

DESCRIBED = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class EngineConfig(BaseModel):
    """The model and how it runs: the embedded engine or a server (agent/build.py builds it)."""

    model_config = DESCRIBED

    model: str | None = None
    """A GGUF file or a catalogue name (`agent models list`) for the embedded engine."""
    base_url: str | None = None
    """An OpenAI-compatible server (e.g. `http://localhost:8000/v1`); replaces the embedded engine."""
    server_model: str = ""
    """The model name to ask the server for ("": the server's first)."""
    api_key_env: str = "OPENAI_API_KEY"
    """The environment variable holding the server's API key."""
    n_ctx: int = 16384
    """Context window in tokens (embedded engine)."""
    prompt_cache: bool = True
    """Keep the KV state of the system prompt and tool schemas on disk between sessions (the 1.5B
    model spent 45 s of every run prefilling them)."""
    threads: int | None = None
    """CPU threads for the embedded engine (None: chosen for this machine)."""
    speculative: Literal["auto", "off"] = "auto"
    """Prompt-lookup speculative decoding in the embedded engine (verified, so the output is what the
    model would write anyway); "auto": on, with the model's measured settings; "off": one token a step."""
    temperature: float = 0.0
    """Not used: the first reply of a turn is greedy and later ones are sampled at the loop's own
    temperatures; kept so that config files that set it still load."""
    thinking: Thinking | None = None
    """Thinking effort of models that think: off, high or max (None: the model's default)."""
    experts_used: int | None = None
    """MoE experts used per token (a GGUF metadata override)."""
    kv_cache_type: KvCacheType | None = None
    """KV cache type: f16, q8_0 or q4_0 (None: f16 unless it does not fit)."""
    parallel: int = 1
    """Sequences decoded together (llama-server -np; the embedded engine runs one)."""
    models: dict[str, ModelKnobs] = {}
    """Knobs per model, as `[models."<glob>"]` tables matched against the model's file or catalogue
    name (n_ctx, threads, thinking, experts_used, kv_cache_type, parallel)."""
    model_dirs: list[str] = []
    """More folders `agent models list` and model names search for GGUF files."""
    fit_check: bool = True
    """Estimate memory and check the GGUF header before loading; refuse a model that cannot fit."""
    tool_format: ToolFormatName | None = None
    """The model's tool-call wire format (agent/formats); None: found from its chat template."""


class LoopConfig(BaseModel):
    """What a run may spend and how it works on the task (agent/loop/state.py `Budgets` holds it)."""

    model_config = DESCRIBED

    max_steps: int = 50
    """Model turns a run may take, the repair phase's replies (at most repair_share of them) included."""
    max_minutes: float = 30.0
    """Wall-clock budget of a run, in minutes."""
    max_tokens: int = 2_000_000
    """Tokens a run may spend, prefilled and generated."""
    max_attempts: int = 5
    """Attempts at the task: a stuck one (repeats, no calls) is set aside and the task started again
    from the plan, told what that attempt changed and how the tests failed; later ones are sampled."""
    edit_tests: bool = False
    """Let the model change the repository's existing test files."""
    test_after_edit: bool = True
    """Run the tests after each edit and hand their result back with the edit's (off for slow suites)."""
    undo_regressions: bool = False
    """With tests after edits: undo at once an edit that makes more tests fail than the best so far (off:
    a fix in several steps may break more before it mends)."""
    edit_samples: int = Field(default=4, ge=1, le=16)
    """With tests after edits and failing tests to fix: an edit that does not make them pass is tried
    against other edits sampled for the same turn, up to this many in all (1: no sampling)."""
    plan: bool = True
    """Have the model write a plan before it starts."""
    test_command: str | None = None
    """The command that runs the tests (None: found from the repository)."""
    python: str | None = None
    """The interpreter that runs the tests (a path; relative: to the repository); None: found
    ($VIRTUAL_ENV, .venv/, uv, poetry, hatch, tox, PATH: agent/repo/python_env.py). A repository's
    .agent.toml needs `agent trust` for it."""
    command_timeout: float = 300.0
    """Seconds a command (tests, shell) may run before it is killed."""


class RepairConfig(BaseModel):
    """Draft-and-test repair (agent/loop/repair.py) before the tool-calling loop, when the tests show
    the bug; the file's keys are `repair`, `repair_drafts` and `repair_share`."""

    model_config = DESCRIBED

    mode: Literal["auto", "always", "off"] = Field(default="auto", alias="repair")
    """Draft-and-test repair before the tool-calling loop: "auto" with an engine that samples (a replay
    could only repeat itself), "always", or "off"."""
    drafts: int = Field(default=30, ge=1, le=500, alias="repair_drafts")
    """Replies drawn in the repair phase, at most."""
    share: float = Field(default=0.7, gt=0.0, le=1.0, alias="repair_share")
    """Share of the time budget the repair phase may use, at most."""


class ReproduceConfig(BaseModel):
    """Reproduce first (agent/loop/reproduce.py): when no test shows the bug, the model writes one
    from the issue, kept when it fails for the reason the issue states; the file's keys are
    `reproduce` and `reproduce_drafts`."""

    model_config = DESCRIBED

    mode: Literal["auto", "always", "off"] = Field(default="auto", alias="reproduce")
    """Write a failing test from the issue when none shows the bug: "auto" with an engine that samples,
    "always", or "off"."""
    drafts: int = Field(default=8, ge=1, le=100, alias="reproduce_drafts")
    """Reproducing tests drafted, at most."""


class ContextConfig(BaseModel):
    """The first prompt's repository context (agent/context) and project instructions (AGENTS.md)."""

    model_config = DESCRIBED

    budget: int | Literal["auto"] | None = Field(default=None, alias="context_budget")
    """Tokens of repository context in the first prompt; None or "auto": min(200K, the model's context
    minus room for the conversation). Relevance decides how much of it is used."""
    instructions_budget: int = 2000
    """Of the context budget, at most this many tokens for AGENTS.md and other project instructions."""


class McpConfig(BaseModel):
    """MCP servers whose tools a run offers (`[mcp_servers.NAME]` tables, agent/mcp)."""

    model_config = DESCRIBED

    servers: dict[str, McpServerConfig] = Field(default={}, alias="mcp_servers")
    """MCP servers, as `[mcp_servers.NAME]` tables (`agent mcp add`); user and project entries both apply."""
    tools_budget: int = Field(default=3000, alias="mcp_tools_budget")
    """Tokens of MCP tool schemas offered to the model, at most."""
    tool_max_tokens: int = Field(default=1000, alias="mcp_tool_max_tokens")
    """An MCP tool whose schema is longer than this many tokens is left out."""
