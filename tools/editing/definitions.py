"""Merge a code block into a file by the names it defines.

Small models are at their best writing code the way it appears in a file, in a fenced block,
rather than quoting old text to replace or escaping code into JSON strings. A block of fixed
definitions is merged into the file that holds them:

- a top-level function, class or constant (`NAME = ...`) replaces the one of that name;
- a class replaces its members one by one (methods, class-level fields), keeping the others, and
  gains the ones the file does not have;
- a function that is a method of exactly one class of the file replaces that method (models often
  write a method without its class), reindented to the class body;
- new imports go after the file's own, new top-level helpers before the first definition replaced;
- a whole file written out is just the same: every definition in it replaced by name.

What the block holds besides definitions (example calls, `print(...)`, `if __name__ == ...`) is
left out, and so is any definition that elides code (`# ... rest unchanged`) or is only a stub
(`...` / `pass`) where the file had a real body. The merged file must parse. Python is merged with
its own parser; other languages by the definitions tree-sitter finds in them (the repository
index's queries), or, failing that, by a block that is the whole file (similar to it line by line).
"""

from __future__ import annotations

import ast
import difflib
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field

from agent.context.tags import CONTAINERS, FUNCTIONS, Symbol, extract, supported
from agent.repo.languages import grammar_for
from tools.editing.elision import is_marker
from tools.editing.syntax import parse_python

Node = ast.stmt
DEF_TYPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
# a block this similar to the whole file (difflib ratio over lines) stands for the whole file
WHOLE_FILE_RATIO = 0.6


@dataclass
class Merged:
    """The file after a merge, and what changed in it (names as `Class.method` for members)."""

    text: str
    replaced: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # definitions left out, with why

    @property
    def names(self) -> list[str]:
        return [*self.replaced, *self.added]


@dataclass(frozen=True)
class _Splice:
    start: int  # first original line replaced (1-based); after `start - 1` when `insert`
    end: int  # last original line replaced
    text: str
    insert: bool = False


def name_of(node: Node) -> str | None:
    """The name a statement defines: a function, a class, or one plain `NAME = ...` target."""
    if isinstance(node, DEF_TYPES):
        return node.name
    if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
        return node.targets[0].id
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return node.target.id
    return None


def _span(node: Node) -> tuple[int, int]:
    decorators = getattr(node, "decorator_list", [])
    start = min([node.lineno, *(d.lineno for d in decorators)])
    return start, node.end_lineno or node.lineno


def _named(body: list[Node]) -> dict[str, Node]:
    named: dict[str, Node] = {}
    for node in body:
        name = name_of(node)
        if name is not None:
            named[name] = node  # a later definition wins, as it does when Python runs the file
    return named


def _kind(node: Node) -> str:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return "function"
    return "class" if isinstance(node, ast.ClassDef) else "value"


def _text(lines: list[str], node: Node) -> str:
    start, end = _span(node)
    return "".join(lines[start - 1 : end])


def _indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _reindent(text: str, indent: str) -> str:
    body = textwrap.dedent(text)
    return "".join(indent + line if line.strip() else line for line in body.splitlines(keepends=True))


def _stub(node: Node) -> bool:
    """A function whose body is only `...`, `pass` or a docstring."""
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return False
    for statement in node.body:
        if isinstance(statement, ast.Pass):
            continue
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
            continue  # a docstring or `...`
        return False
    return True


def _elides(text: str) -> bool:
    return any(is_marker(line) for line in text.splitlines())


class _Merger:
    def __init__(self, original: str, block: str) -> None:
        self.original = original
        self.lines = original.splitlines(keepends=True)
        self.block_lines = block.splitlines(keepends=True)
        self.splices: list[_Splice] = []
        self.merged = Merged(text=original)
        self.placed = False  # a class of the block is one of the file's (even if it only adds)

    def usable(self, node: Node, old: Node | None, label: str) -> bool:
        text = _text(self.block_lines, node)
        if _elides(text):
            self.merged.skipped.append(f"{label} (it leaves code out)")
            return False
        if old is not None and _stub(node) and not _stub(old):
            self.merged.skipped.append(f"{label} (only a stub)")
            return False
        return True

    def replace(self, old: Node, new: Node, label: str) -> None:
        start, end = _span(old)
        indent = _indent_of(self.lines[start - 1])
        self.splices.append(_Splice(start, end, _reindent(_text(self.block_lines, new), indent)))
        self.merged.replaced.append(label)

    def insert_before(self, line: int, node: Node, indent: str, label: str) -> None:
        text = _reindent(_text(self.block_lines, node), indent)
        self.splices.append(_Splice(line, line - 1, text + ("\n" if not indent else ""), insert=True))
        self.merged.added.append(label)

    def merge_class(self, old: ast.ClassDef, new: ast.ClassDef) -> None:
        self.placed = True
        members = _named(old.body)
        last = _span(old.body[-1])[1] + 1
        indent = _indent_of(self.lines[_span(old.body[0])[0] - 1])
        for node in new.body:
            name = name_of(node)
            if name is None:
                continue
            label = f"{old.name}.{name}"
            existing = members.get(name)
            if not self.usable(node, existing, label):
                continue
            if existing is not None and _kind(existing) == _kind(node):
                if ast.dump(existing) != ast.dump(node):
                    self.replace(existing, node, label)
            elif existing is None:
                text = _reindent(_text(self.block_lines, node), indent)
                spacer = "\n" if isinstance(node, DEF_TYPES) else ""
                self.splices.append(_Splice(last, last - 1, spacer + text, insert=True))
                self.merged.added.append(label)

    def methods(self, tree: ast.Module) -> dict[str, list[tuple[ast.ClassDef, Node]]]:
        found: dict[str, list[tuple[ast.ClassDef, Node]]] = {}
        for cls in tree.body:
            if isinstance(cls, ast.ClassDef):
                for member in cls.body:
                    if isinstance(member, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        found.setdefault(member.name, []).append((cls, member))
        return found

    def run(self, tree: ast.Module, block: ast.Module) -> Merged | None:
        top = _named(tree.body)
        methods = self.methods(tree)
        imports = {ast.dump(n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))}
        new_imports: list[Node] = []
        new_helpers: list[Node] = []
        for node in block.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                if ast.dump(node) not in imports:
                    new_imports.append(node)
                continue
            name = name_of(node)
            if name is None:
                continue
            old = top.get(name)
            if old is not None and _kind(old) == _kind(node):
                if not self.usable(node, old, name):
                    continue
                if isinstance(old, ast.ClassDef) and isinstance(node, ast.ClassDef):
                    self.merge_class(old, node)
                elif ast.dump(old) != ast.dump(node):
                    self.replace(old, node, name)
                else:
                    self.merged.replaced.append(name)  # written out as it is: it belongs here
                continue
            owners = methods.get(name, []) if old is None and _kind(node) == "function" else []
            if len(owners) == 1:
                cls, method = owners[0]
                label = f"{cls.name}.{name}"
                if not self.usable(node, method, label):
                    continue
                if ast.dump(method) != ast.dump(node):
                    self.replace(method, node, label)
                else:
                    self.merged.replaced.append(label)
            elif old is None and not owners and self.usable(node, None, name):
                new_helpers.append(node)
        if not self.merged.replaced and not (self.placed and self.merged.added):
            return None  # nothing in the block belongs to this file
        self.place_new(tree, new_imports, new_helpers)
        return self.apply()

    def place_new(self, tree: ast.Module, imports: list[Node], helpers: list[Node]) -> None:
        if imports:
            after = max(
                (_span(n)[1] for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))), default=0
            )
            if after == 0 and tree.body and isinstance(tree.body[0], ast.Expr):  # after the docstring
                after = _span(tree.body[0])[1]
            text = "".join(_text(self.block_lines, n).lstrip() for n in imports)
            self.splices.append(_Splice(after + 1, after, text, insert=True))
            self.merged.added.extend(ast.unparse(n) for n in imports)
        if helpers:
            first = min(s.start for s in self.splices if not s.insert) if self.has_replacements() else None
            line = first if first is not None else len(self.lines) + 1
            for node in helpers:
                self.insert_before(line, node, "", str(name_of(node)))

    def has_replacements(self) -> bool:
        return any(not s.insert for s in self.splices)

    def apply(self) -> Merged | None:
        merged = _splice(self.lines, self.splices, self.original.endswith("\n"))
        if parse_python(merged) is None:
            return None
        self.merged.text = merged
        return self.merged


def _splice(lines: list[str], splices: list[_Splice], final_newline: bool) -> str:
    """`lines` with the splices made: bottom-up, so earlier line numbers stay valid, and at one
    line an insert before a replacement."""
    out = list(lines)
    if out and not out[-1].endswith("\n"):
        out[-1] += "\n"
    for splice in sorted(splices, key=lambda s: (s.start, not s.insert), reverse=True):
        text = splice.text if splice.text.endswith("\n") else splice.text + "\n"
        if splice.insert:
            out[splice.start - 1 : splice.start - 1] = [text]
        else:
            out[splice.start - 1 : splice.end] = [text]
    merged = "".join(out)
    return merged if final_newline else merged.rstrip("\n")


def merge_python(original: str, block: str) -> Merged | None:
    """`block`'s definitions merged into `original`; None when nothing in it belongs to the file,
    or either does not parse."""
    block = textwrap.dedent(block.expandtabs(4) if "\t" in block and "\t" not in original else block)
    tree = parse_python(original)
    parsed = parse_python(block)
    if tree is None or parsed is None:
        return None
    return _Merger(original, block).run(tree, parsed)


def merge_code(path: str, original: str, block: str) -> Merged | None:
    """Merge `block` into the file at `path` (its text `original`), by language: Python with its
    own parser, languages the repository index knows by their tree-sitter definitions, and any
    file by a whole-file block."""
    if path.endswith((".py", ".pyi")):
        return merge_python(original, block)
    grammar = grammar_for(path)
    if grammar is not None and supported(grammar):
        merged = merge_tagged(grammar, original, block)
        if merged is not None:
            return merged
    return whole_file(original, block)


def merge_tagged(grammar: str, original: str, block: str) -> Merged | None:
    """Definitions of `block` merged into `original` by their qualified names, as the repository
    index sees them (agent/context/tags.py): a top-level definition replaces the one of that
    name; a class (impl, interface) replaces its members one by one and gains new ones before its
    closing line; a function that is a method of exactly one container replaces that method. The
    merged file must parse as it did."""
    block = textwrap.dedent(block)
    old_tags = extract(grammar, original.encode())
    new_tags = extract(grammar, block.encode())
    if new_tags.syntax_errors:
        return None
    merge = _TaggedMerge(original, block, old_tags.symbols)
    for index, symbol in enumerate(new_tags.symbols):
        if symbol.parent == -1:
            merge.place(symbol, [m for m in new_tags.symbols if m.parent == index])
    merged = merge.merged
    if not merged.replaced and not (merge.placed and merged.added):
        return None
    text = merge.text()
    broken = extract(grammar, text.encode()).syntax_errors
    if broken and not old_tags.syntax_errors:
        return None
    merged.text = text
    return merged


class _TaggedMerge:
    """One `merge_tagged`: the splices the block's top-level definitions make in the file."""

    def __init__(self, original: str, block: str, old: Sequence[Symbol]) -> None:
        self.original = original
        self.lines = original.splitlines(keepends=True)
        self.block_lines = block.splitlines(keepends=True)
        self.old = old
        self.by_name = {s.qualname: s for s in old}
        self.merged = Merged(text=original)
        self.splices: list[_Splice] = []
        self.helpers: list[Symbol] = []  # new top-level definitions, placed before the first replaced
        self.placed = False  # a container of the block is one of the file's (even if it only adds)

    def text_of(self, symbol: Symbol, indent: str) -> str:
        return _reindent("".join(self.block_lines[symbol.start - 1 : symbol.end]), indent)

    def indent_at(self, line: int) -> str:
        return _indent_of(self.lines[line - 1])

    def replace(self, target: Symbol, symbol: Symbol, label: str) -> None:
        text = self.text_of(symbol, self.indent_at(target.start))
        if text != "".join(self.lines[target.start - 1 : target.end]):
            self.splices.append(_Splice(target.start, target.end, text))
        self.merged.replaced.append(label)

    def place(self, symbol: Symbol, members: list[Symbol]) -> None:
        """A top-level definition of the block (with its `members`, for a container)."""
        label = symbol.qualname
        if _elides("".join(self.block_lines[symbol.start - 1 : symbol.end])):
            self.merged.skipped.append(f"{label} (it leaves code out)")
            return
        target = self.by_name.get(symbol.qualname)
        if target is not None and target.kind in CONTAINERS and members:
            self.into_container(target, symbol, members)
        elif target is not None:
            self.replace(target, symbol, label)
        else:
            methods = [s for s in self.old if s.parent != -1 and s.qualname.endswith("." + symbol.name)]
            if symbol.kind in FUNCTIONS and len(methods) == 1:
                self.replace(methods[0], symbol, methods[0].qualname)
            elif not methods:
                self.helpers.append(symbol)

    def into_container(self, target: Symbol, symbol: Symbol, members: list[Symbol]) -> None:
        """A class (impl, interface) of the file: each member replaced, or added before its end."""
        self.placed = True
        last = target.end
        inner = next((s for s in self.old if s.qualname.startswith(target.qualname + ".")), None)
        indent = self.indent_at(inner.start) if inner is not None else self.indent_at(target.start) + "    "
        for member in members:
            name = target.qualname + member.qualname[len(symbol.qualname) :]
            existing = self.by_name.get(name)
            if existing is not None:
                self.replace(existing, member, name)
            else:
                self.splices.append(_Splice(last, last - 1, self.text_of(member, indent), insert=True))
                self.merged.added.append(name)

    def text(self) -> str:
        """The file with every splice made, the new helpers before the first replaced definition."""
        replaced = [s.start for s in self.splices if not s.insert]
        at = min(replaced) if replaced else len(self.lines) + 1
        for symbol in self.helpers:
            self.splices.append(_Splice(at, at - 1, self.text_of(symbol, "") + "\n", insert=True))
            self.merged.added.append(symbol.qualname)
        return _splice(self.lines, self.splices, self.original.endswith("\n"))


def whole_file(original: str, block: str) -> Merged | None:
    """A block that is the whole file, changed: it replaces the file."""
    old, new = original.splitlines(), block.splitlines()
    if not new or difflib.SequenceMatcher(None, old, new, autojunk=False).ratio() < WHOLE_FILE_RATIO:
        return None
    text = block if block.endswith("\n") or not original.endswith("\n") else block + "\n"
    return Merged(text=text, replaced=["the whole file"])
