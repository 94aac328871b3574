"""The layout's rules, read from the source (AST only): which packages may import which, and no
cycle between packages. Every import counts: top-level, inside a function (lazy) or under
TYPE_CHECKING; each is still an arrow from one package to another.

The rules (docs/architecture.md):
- engines import only the shared language (events, messages, grammar), the wire formats and their
  own package: never tools, the loop, the TUI or the CLI;
- tools never import the loop, the run, the TUI or the CLI;
- the sandbox imports nothing of ours but itself;
- nothing below the CLI and the TUI imports them, and only they call the composition root
  (agent/build.py);
- context never imports tools (both stand on agent/repo);
- no import cycle between packages.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.paths import ROOT

TOPS = ("agent", "tools", "sandbox", "prompts")
# The packages the cycle rule is about. Any other module of agent/ (events, messages, config,
# build, errors...) is a node of its own. tools/base.py is a node apart from the tools: the tool
# boundary (Tool, ToolContext, ToolError) that the tools and their machinery (tools/editing,
# tools/web) both stand on.
PACKAGES = (
    "agent.loop",
    "agent.engines",
    "agent.formats",
    "agent.models",
    "agent.context",
    "agent.repo",
    "agent.run",
    "agent.mcp",
    "agent.github",
    "agent.batch",
    "agent.tui",
    "agent.cli",
    "tools.editing",
    "tools.web",
    "tools.base",
    "tools",
    "sandbox",
    "prompts",
)
ENGINES_MAY_IMPORT = ("agent.engines", "agent.events", "agent.messages", "agent.formats", "agent.grammar")


@dataclass(frozen=True)
class Arrow:
    source: str  # the importing module
    target: str  # the imported module (or package)
    line: int

    def __str__(self) -> str:
        return f"{self.source}:{self.line} -> {self.target}"


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str, root: Path) -> bool:
    path = root.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def arrows_of(source: str, module: str, is_package: bool, root: Path) -> Iterator[Arrow]:
    """Every import of one of our modules in `source` (the module `module`), wherever it is."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([base] if base else [])])
            # `from agent import engines` imports the package agent.engines
            targets = [
                f"{base}.{a.name}" if is_module(f"{base}.{a.name}", root) else base for a in node.names
            ]
        else:
            continue
        for target in targets:
            if target.split(".")[0] in TOPS:
                yield Arrow(module, target, node.lineno)


def all_arrows(root: Path = ROOT) -> list[Arrow]:
    found: list[Arrow] = []
    for top in TOPS:
        for path in sorted((root / top).rglob("*.py")):
            name = module_name(path, root)
            found += arrows_of(path.read_text(), name, path.name == "__init__.py", root)
    return found


def within(module: str, *packages: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def node_of(module: str) -> str:
    return next((p for p in PACKAGES if within(module, p)), module)


def broken(rule: str, arrows: list[Arrow]) -> list[str]:
    return [f"{rule}: {arrow}" for arrow in arrows]


ARROWS = all_arrows()


def test_engines_import_only_the_shared_language_the_formats_and_themselves() -> None:
    bad = [
        a for a in ARROWS if within(a.source, "agent.engines") and not within(a.target, *ENGINES_MAY_IMPORT)
    ]
    assert bad == [], broken("engines never import tools, the loop, the TUI, the CLI or the config", bad)


def test_tools_never_import_the_loop_the_tui_or_the_cli() -> None:
    bad = [
        a
        for a in ARROWS
        if within(a.source, "tools") and within(a.target, "agent.loop", "agent.tui", "agent.cli", "agent.run")
    ]
    assert bad == [], broken("tools never import the loop, the run, the TUI or the CLI", bad)


def test_the_sandbox_imports_nothing_of_ours() -> None:
    bad = [a for a in ARROWS if within(a.source, "sandbox") and not within(a.target, "sandbox")]
    assert bad == [], broken("the sandbox imports only itself", bad)


def test_nothing_below_the_cli_and_the_tui_imports_them_or_the_composition_root() -> None:
    top = ("agent.cli", "agent.tui")
    bad = [a for a in ARROWS if within(a.target, *top, "agent.build") and not within(a.source, *top)]
    assert bad == [], broken("only the CLI and the TUI import them and agent/build.py", bad)
    tui_to_cli = [a for a in ARROWS if within(a.source, "agent.tui") and within(a.target, "agent.cli")]
    assert tui_to_cli == [], broken("the TUI never imports the CLI", tui_to_cli)


def test_context_never_imports_tools() -> None:
    bad = [a for a in ARROWS if within(a.source, "agent.context") and within(a.target, "tools")]
    assert bad == [], broken("context stands on agent/repo, never on tools", bad)


def cycles(arrows: list[Arrow]) -> list[list[str]]:
    """The strongly connected groups of more than one node (Tarjan), each a cycle between packages."""
    edges: dict[str, set[str]] = {}
    for arrow in arrows:
        a, b = node_of(arrow.source), node_of(arrow.target)
        if a != b:
            edges.setdefault(a, set()).add(b)
            edges.setdefault(b, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(edges[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_between_packages() -> None:
    found = cycles(ARROWS)
    detail = [
        str(a)
        for group in found
        for a in ARROWS
        if node_of(a.source) in group
        and node_of(a.target) in group
        and node_of(a.source) != node_of(a.target)
    ]
    assert found == [], f"cycles {found}: {detail}"


# ---- the rules see what they must ---------------------------------------------------------------


def test_lazy_relative_and_type_checking_imports_are_arrows_too() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from tools.base import Tool\n"
        "def later():\n"
        "    import agent.cli.main\n"
        "    from . import llamacpp\n"
        "    from ..loop import core\n"
        "from agent import events\n"
        "import numpy\n"
    )
    found = [str(a) for a in sorted(arrows_of(source, "agent.engines.x", False, ROOT), key=lambda a: a.line)]
    assert found == [
        "agent.engines.x:3 -> tools.base",
        "agent.engines.x:5 -> agent.cli.main",
        "agent.engines.x:6 -> agent.engines.llamacpp",
        "agent.engines.x:7 -> agent.loop.core",
        "agent.engines.x:8 -> agent.events",
    ]


def test_a_cycle_is_found_through_any_number_of_packages() -> None:
    arrows = [Arrow("agent.run.a", "agent.loop.b", 1), Arrow("agent.loop.b", "tools.c", 1)]
    assert cycles(arrows) == []
    assert cycles([*arrows, Arrow("tools.d", "agent.run.e", 1)]) == [["agent.loop", "agent.run", "tools"]]
    assert node_of("tools.base") == "tools.base" and node_of("tools.editing.matching") == "tools.editing"
