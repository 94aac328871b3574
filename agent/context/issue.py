"""What an issue points at: code names, qualified names, file paths, stack frames, error messages.

Everything in backticks and every code-shaped word outside them (`snake_case`, `camelCase`,
`PascalCase`, `a.b`, `call(`) is an identifier; traceback frames (Python, JavaScript, Java,
Go/Rust `file:line`) give paths and function names; exception lines and quoted strings give
literal messages that the ranking looks for verbatim in the candidate code.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from agent.context.terms import STOPWORDS, Tokenizer

_BACKTICKS = re.compile(r"```.*?```|`[^`\n]+`", re.DOTALL)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DOTTED = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+\b")
_CODE_SHAPED = re.compile(
    r"\b(?:[A-Za-z0-9]*_[A-Za-z0-9_]+|[a-z]+[A-Z][A-Za-z0-9]*|[A-Z][a-z0-9]+[A-Z][A-Za-z0-9]*|[A-Z]{2,}[a-z]+\w*)\b"
)
_CALLED_METHOD = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\([^()]*\)\.([A-Za-z_][A-Za-z0-9_]*)")
_CALL = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\(")
_PY_FRAME = re.compile(r'File "([^"]+)", line (\d+)(?:, in ([A-Za-z_<>][\w<>.]*))?')
_JAVA_FRAME = re.compile(r"at ([\w$.]+)\.([\w$<>]+)\(([\w$]+\.java):(\d+)\)")
_PATH = re.compile(
    r"(?<![\w/.-])((?:[\w.-]+/)*[\w.-]+\.(?:py|pyi|js|jsx|mjs|ts|tsx|go|rs|java|c|cc|cpp|h|hpp|rb|php|cs|kt|"
    r"swift|scala|toml|json|yaml|yml|cfg|ini|md|rst))(?::(\d+))?\b"
)
_EXCEPTION = re.compile(r"\b([A-Z]\w*(?:Error|Exception|Warning|Panic))\b(?::[ \t]*([^\n`]{4,200}))?")
_QUOTED = re.compile(r"\"([^\"\n`]{4,160})\"|'([^'\n`]{4,160})'")
_SENTENCE = re.compile(r"[.;:!?,()\[\]{}\"`]+\s*")
_PLAIN_WORD = re.compile(r"[A-Za-z]+")
MIN_PHRASE = 8
_NO_PHRASE_START = frozenset(
    {"a", "an", "the", "to", "of", "in", "on", "is", "it", "its", "and", "or", "for", "with", "as", "at"}
    | {"by", "be", "this", "that"}
)
_WORDY = re.compile(r"[A-Za-z]{3,}")  # a literal worth matching has a word in it
_FILE_WORDS = frozenset({"e.g", "i.e", "etc"})


class Frame(NamedTuple):
    path: str
    line: int | None
    function: str | None


class IssueQuery(NamedTuple):
    text: str
    terms: list[str]  # BM25 terms of the whole issue
    identifiers: dict[str, float]  # code names as written, with weights
    dotted: list[tuple[str, ...]]  # `click.Path.convert` -> ("click", "Path", "convert")
    paths: list[str]  # file paths as written (without line numbers)
    frames: list[Frame]
    literals: list[str]  # error messages and quoted strings, for verbatim matches
    phrases: list[str]  # runs of 2-4 words run together: "out-of-order table" -> "outofordertable"


def _add(names: dict[str, float], name: str, weight: float) -> None:
    if len(name) > 1 and name.lower() not in STOPWORDS and not name.isdigit():
        names[name] = max(names.get(name, 0.0), weight)


def _frames(text: str) -> list[Frame]:
    frames = [Frame(p, int(n), f) for p, n, f in _PY_FRAME.findall(text)]
    frames += [Frame(file, int(n), method) for _, method, file, n in _JAVA_FRAME.findall(text)]
    return frames


def _path_like(path: str) -> bool:
    """`src/a.py` and `utils.py` are paths; `b.c` and `ns.h` in prose are more likely attributes."""
    stem, _, ext = path.rpartition("/")[2].rpartition(".")
    return "/" in path or (len(stem) >= 3 and len(ext) >= 2)


def parse_issue(text: str) -> IssueQuery:
    names: dict[str, float] = {}
    dotted: list[tuple[str, ...]] = []
    for span in _BACKTICKS.findall(text):
        code = _QUOTED.sub(" ", span)  # names inside string literals are data, not code
        for name in _IDENT.findall(code):
            _add(names, name, 1.5)
        dotted.extend(tuple(d.split(".")) for d in _DOTTED.findall(code))
        dotted.extend(_CALLED_METHOD.findall(code))  # `Path(...).convert` is Path.convert
    prose = _BACKTICKS.sub(" ", text)
    for name in _CODE_SHAPED.findall(prose) + _CALL.findall(prose):
        _add(names, name, 1.0)
    for chain in _DOTTED.findall(prose):
        if chain.lower() in _FILE_WORDS or _PATH.fullmatch(chain):
            continue
        parts = tuple(chain.split("."))
        dotted.append(parts)
        for part in parts:
            _add(names, part, 1.0)
    frames = _frames(text)
    for frame in frames:
        if frame.function and frame.function.isidentifier():
            _add(names, frame.function, 2.0)
    literals: list[str] = []
    for exc, message in _EXCEPTION.findall(text):
        _add(names, exc, 1.0)
        if message:
            literals.append(message.strip())
    for part in [*_BACKTICKS.findall(text), prose]:
        literals += [a or b for a, b in _QUOTED.findall(part)]
    written = [p for p, _ in _PATH.findall(text) if _path_like(p)]
    paths = list(dict.fromkeys(written + [f.path for f in frames]))
    return IssueQuery(
        text=text,
        terms=Tokenizer().terms(text),
        identifiers=names,
        dotted=list(dict.fromkeys(dotted)),
        paths=paths,
        frames=frames,
        literals=list(dict.fromkeys(lit for lit in literals if _WORDY.search(lit))),
        phrases=_phrases(prose),
    )


def _phrases(prose: str) -> list[str]:
    """Word runs that may be a compound name written out ("strip comments", "super table")."""
    found: dict[str, None] = {}
    for sentence in _SENTENCE.split(prose):
        words = [w.lower() for w in _PLAIN_WORD.findall(sentence)]
        for size in (2, 3, 4):
            for start in range(len(words) - size + 1):
                phrase = "".join(words[start : start + size])
                if len(phrase) >= MIN_PHRASE and words[start] not in _NO_PHRASE_START:
                    found[phrase] = None
    return list(found)
