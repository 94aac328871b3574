"""Definitions and references of one source file, extracted with tree-sitter queries.

A definition becomes a `Symbol`: its name, dotted qualified name (`Class.method`), kind, whole
line range (decorators, `export` and `template<>` included) and a one-line signature. Symbols
local to a function are left out: they are part of the function. References are the names a
file calls, instantiates, inherits or imports, with their counts (the edges of the repo graph).
"""

from __future__ import annotations

import re
from collections import Counter
from functools import cache
from importlib import resources
from typing import Any, NamedTuple

CONTAINERS = frozenset({"class", "interface", "impl", "module"})
FUNCTIONS = frozenset({"function", "method"})
_TYPES = frozenset({"class", "interface", "impl"})  # whose functions are methods
# Parents that belong to the definition they hold (decorators, export, template, `type (...)`).
_WRAPPERS = frozenset(
    {
        "decorated_definition",
        "export_statement",
        "template_declaration",
        "type_declaration",
        "const_declaration",
        "var_declaration",
        "lexical_declaration",
        "variable_declaration",
    }
)
_DECLARATOR_NAMES = frozenset(
    {"identifier", "field_identifier", "qualified_identifier", "destructor_name", "operator_name"}
)
_KIND_PRIORITY = {"function": 0, "method": 0, "class": 1, "variable": 2}
_SPACES = re.compile(r"\s+")
_TEMPLATE_ARGS = re.compile(r"<[^<>]*>")
MAX_SIGNATURE = 200

QUERY_FILE = {"tsx": "typescript"}  # grammars that share another's node names
REFERENCES_MARK = "; references"


@cache
def query_sources(grammar: str) -> tuple[str, str] | None:
    """The definitions query and the references query of a grammar (one file, two sections), from
    `queries/<language>.scm` next to this module (package data); a language without a query file
    is still listed and searchable as text."""
    name = QUERY_FILE.get(grammar, grammar)
    resource = resources.files("agent.context").joinpath("queries", f"{name}.scm")
    if not resource.is_file():
        return None
    definitions, _, references = resource.read_text(encoding="utf-8").partition(REFERENCES_MARK)
    return definitions, references


class Symbol(NamedTuple):
    name: str
    qualname: str
    kind: str
    start: int  # first line, 1-based
    end: int  # last line, inclusive
    head: int  # the line of the definition itself (after its decorators or attributes)
    signature: str
    parent: int  # index of the enclosing symbol in the file's list, -1 at top level


class Tags(NamedTuple):
    symbols: tuple[Symbol, ...]
    refs: dict[str, int]
    syntax_errors: bool


class _Def(NamedTuple):
    start_byte: int
    end_byte: int
    start_line: int
    end_line: int
    head_line: int
    kind: str
    name: str
    scope: tuple[str, ...]  # qualifiers written in the definition itself (Go receiver, C++ ns::A::)
    signed: tuple[Any, Any]  # the nodes its signature is read from, once it is known to be kept


@cache
def _queries(grammar: str) -> tuple[Any, Any, Any] | None:
    """(parser, definitions query, references query) for a grammar, built once per process."""
    sources = query_sources(grammar)
    if sources is None:
        return None
    import tree_sitter
    from tree_sitter_language_pack import get_language

    language = get_language(grammar)  # type: ignore[arg-type]
    parser = tree_sitter.Parser(language)
    return parser, tree_sitter.Query(language, sources[0]), tree_sitter.Query(language, sources[1])


def supported(grammar: str) -> bool:
    return query_sources(grammar) is not None


def extract(grammar: str, source: bytes) -> Tags:
    """Tags of `source`; raises ValueError for a grammar without queries."""
    built = _queries(grammar)
    if built is None:
        raise ValueError(f"no tag queries for {grammar}")
    parser, definitions, references = built
    import tree_sitter

    root = parser.parse(source).root_node
    defs = [_definition(kind, nodes) for kind, nodes in _def_matches(tree_sitter, definitions, root)]
    named: Counter[bytes] = Counter()  # counted as bytes, decoded once per distinct name
    for nodes in tree_sitter.QueryCursor(references).captures(root).values():
        named.update(node.text or b"" for node in nodes)
    refs: Counter[str] = Counter()
    for name, times in named.items():
        refs[name.decode("utf-8", errors="replace")] += times
    return Tags(
        symbols=_nest([d for d in defs if d is not None], source),
        refs=dict(refs),
        syntax_errors=root.has_error,
    )


def _def_matches(tree_sitter: Any, query: Any, root: Any) -> list[tuple[str, dict[str, list[Any]]]]:
    found = []
    for _, captures in tree_sitter.QueryCursor(query).matches(root):
        kind = next((name.split(".", 1)[1] for name in captures if name.startswith("definition.")), None)
        if kind is not None:
            found.append((kind, captures))
    return found


def _text(node: Any) -> str:
    return bytes(node.text or b"").decode("utf-8", errors="replace")


def _definition(kind: str, captures: dict[str, list[Any]]) -> _Def | None:
    node = captures[f"definition.{kind}"][0]
    scope: tuple[str, ...] = ()
    if "name" in captures:
        name = _text(captures["name"][-1])
    else:
        name, scope = _declarator_name(node)
    if "receiver" in captures:
        scope = (_text(captures["receiver"][0]),)
    if not name:
        return None
    outer = _outer(node)
    first = _leading_attributes(outer)
    end_row = outer.end_point[0] - (1 if outer.end_point[1] == 0 and outer.end_point[0] > 0 else 0)
    return _Def(
        start_byte=first.start_byte,
        end_byte=outer.end_byte,
        start_line=first.start_point[0] + 1,
        end_line=max(end_row, first.start_point[0]) + 1,
        head_line=node.start_point[0] + 1,
        kind=kind,
        name=name,
        scope=scope,
        signed=(node if outer.type == "decorated_definition" else outer, node),
    )


def _declarator_name(node: Any) -> tuple[str, tuple[str, ...]]:
    """C/C++ functions: follow the declarator chain to the name; `ns::A::m` gives scope (ns, A)."""
    current = node.child_by_field_name("declarator")
    while current is not None and current.type not in _DECLARATOR_NAMES:
        current = current.child_by_field_name("declarator")
    if current is None:
        return "", ()
    parts = [p for p in _TEMPLATE_ARGS.sub("", _text(current)).split("::") if p]
    return (parts[-1], tuple(parts[:-1])) if parts else ("", ())


def _outer(node: Any) -> Any:
    """The definition with the wrappers that belong to it (a decorator, `export`, a lone spec's keyword)."""
    while node.parent is not None and node.parent.type in _WRAPPERS:
        parent = node.parent
        if sum(1 for c in parent.named_children if c.type == node.type) > 1:
            break
        node = parent
    return node


def _leading_attributes(node: Any) -> Any:
    """Rust `#[...]` attributes written just before an item belong to it."""
    first = node
    sibling = node.prev_named_sibling
    while sibling is not None and sibling.type == "attribute_item":
        first, sibling = sibling, sibling.prev_named_sibling
    return first


def _signature(outer: Any, node: Any, source: bytes) -> str:
    """From the definition's first token to its body: `def f(x) -> int:`, `export class A extends B`."""
    body = node.child_by_field_name("body")
    end = body.start_byte if body is not None and body.start_byte > outer.start_byte else outer.end_byte
    text = source[outer.start_byte : end].decode("utf-8", errors="replace")
    if body is None:
        text = text.split("\n", 1)[0]
    kept = [line for line in text.split("\n") if not line.strip().startswith(("#", "//"))]
    text = _SPACES.sub(" ", " ".join(kept)).strip().replace("( ", "(").replace(" )", ")")
    return text if len(text) <= MAX_SIGNATURE else text[: MAX_SIGNATURE - 3] + "..."


def _nest(defs: list[_Def], source: bytes) -> tuple[Symbol, ...]:
    """Symbols in source order with parents and qualified names; locals of functions dropped.

    Only containers (classes, impls, modules) adopt what they enclose; a definition inside a
    value or a type (a struct in a typedef) is its sibling."""
    unique: dict[tuple[int, str], _Def] = {}
    for d in defs:
        key = (d.start_byte, d.name)
        kept = unique.get(key)
        if kept is None or _KIND_PRIORITY.get(d.kind, 3) < _KIND_PRIORITY.get(kept.kind, 3):
            unique[key] = d
    ordered = sorted(unique.values(), key=lambda d: (d.start_byte, -d.end_byte))
    symbols: list[Symbol] = []
    stack: list[tuple[_Def, int]] = []  # enclosing definitions and their symbol index (-1: dropped)
    for d in ordered:
        while stack and not _inside(d, stack[-1][0]):
            stack.pop()
        enclosing = [(e, i) for e, i in stack if e.kind in CONTAINERS or e.kind in FUNCTIONS or i < 0]
        parent_def, parent = enclosing[-1] if enclosing else (None, -1)
        if parent_def is not None and (parent < 0 or parent_def.kind not in CONTAINERS):
            stack.append((d, -1))  # local to a function: part of it, not a symbol of its own
            continue
        in_type = parent_def is not None and parent_def.kind in _TYPES
        kind = "method" if d.kind == "function" and in_type else d.kind
        prefix = symbols[parent].qualname + "." if parent >= 0 else ""
        scope = ".".join(d.scope) + "." if d.scope else ""
        qualname = prefix + scope + d.name
        symbols.append(
            Symbol(
                d.name,
                qualname,
                kind,
                d.start_line,
                d.end_line,
                d.head_line,
                _signature(*d.signed, source),
                parent,
            )
        )
        stack.append((d, len(symbols) - 1))
    return tuple(symbols)


def _inside(inner: _Def, outer: _Def) -> bool:
    """Strictly nested: `X, Y = 1, 2` gives two siblings with one range, not a parent and a child."""
    same = inner.start_byte == outer.start_byte and inner.end_byte == outer.end_byte
    return not same and outer.start_byte <= inner.start_byte and inner.end_byte <= outer.end_byte
