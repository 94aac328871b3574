"""Runs the `run:` steps of a composite action (action.yml) the way a GitHub runner does, without `act`:
in order, each with `bash --noprofile --norc -eo pipefail`, its `env:` and `if:` evaluated from the
inputs and the earlier steps' outputs (read back from the GITHUB_OUTPUT file). Steps that `uses:`
another action (caches, artifacts) are recorded as skipped: they need GitHub's services.

Only the expression forms action.yml uses are understood (`inputs.X`, `steps.ID.outputs.X`,
`github.X`, `runner.X`, `always()`, `==`/`!=` against a quoted string, `&&`); anything else is an
error, so a new form in action.yml fails the test instead of being silently mis-read.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
COMPARISON = re.compile(r"^(\S+)\s*(==|!=)\s*'([^']*)'$")


@dataclass
class StepRun:
    name: str
    ran: bool
    exit_code: int = 0
    stdout: str = ""
    stderr: str = ""


@dataclass
class ActionRun:
    """The state of one run: inputs, contexts, step outputs, and what each step did."""

    action: dict[str, Any]
    inputs: dict[str, str]
    contexts: dict[str, dict[str, str]]
    base_env: dict[str, str]
    workspace: Path
    temp: Path
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    steps: list[StepRun] = field(default_factory=list)

    def value(self, reference: str) -> str:
        parts = reference.split(".")
        if parts[0] == "inputs" and len(parts) == 2:
            declared = self.action["inputs"][parts[1]]  # KeyError: an input action.yml does not declare
            default = str(declared.get("default", ""))
            return self.inputs.get(parts[1], self.substitute(default))
        if parts[0] == "steps" and len(parts) == 4 and parts[2] == "outputs":
            return self.outputs.get(parts[1], {}).get(parts[3], "")
        if parts[0] in self.contexts and len(parts) == 2:
            return self.contexts[parts[0]][parts[1]]
        raise ValueError(f"expression not understood by the test runner: {reference}")

    def substitute(self, text: str) -> str:
        return EXPRESSION.sub(lambda m: self.value(m.group(1)), text)

    def condition(self, expression: str) -> bool:
        results = []
        for term in (t.strip() for t in expression.split("&&")):
            if term == "always()":
                results.append(True)
            elif m := COMPARISON.match(term):
                equal = self.value(m.group(1)) == m.group(3)
                results.append(equal if m.group(2) == "==" else not equal)
            else:
                raise ValueError(f"condition not understood by the test runner: {term}")
        return all(results)

    def run_step(self, index: int, step: dict[str, Any]) -> StepRun:
        name = step.get("name", f"step {index}")
        failed = any(s.exit_code != 0 for s in self.steps)
        condition = str(step.get("if", "always()" if not failed else ""))
        skipped_by_failure = failed and "always()" not in condition  # GitHub adds success() otherwise
        if "uses" in step or skipped_by_failure or not self.condition(condition):
            return StepRun(name, ran=False)
        assert step.get("shell") == "bash", f"{name}: a composite step needs `shell: bash`"
        output_file = self.temp / f"output-{index}"
        output_file.write_text("")
        env = {**self.base_env, **{k: self.substitute(str(v)) for k, v in step.get("env", {}).items()}}
        env["GITHUB_OUTPUT"] = str(output_file)
        script = self.temp / f"step-{index}.sh"
        script.write_text(step["run"])
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=self.workspace,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
            stdin=subprocess.DEVNULL,
        )
        if "id" in step:
            self.outputs[step["id"]] = read_outputs(output_file)
        return StepRun(name, True, done.returncode, done.stdout, done.stderr)

    def run(self) -> ActionRun:
        for index, step in enumerate(self.action["runs"]["steps"]):
            self.steps.append(self.run_step(index, step))
        return self

    def step(self, name: str) -> StepRun:
        return next(s for s in self.steps if s.name == name)


def read_outputs(path: Path) -> dict[str, str]:
    """`key=value` lines, as steps write them to GITHUB_OUTPUT (the heredoc form is not used)."""
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {key: value for key, value in pairs}


def load_action(path: Path) -> dict[str, Any]:
    action = yaml.safe_load(path.read_text())
    assert action["runs"]["using"] == "composite"
    return action
