"""The context pack on real git repositories, counted with the real 270M model's tokenizer."""

from __future__ import annotations

import json
import os
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.cli.main import main
from agent.context import build_pack, parse_tokens, resolve_budget
from agent.context.index import load_index
from agent.context.walk import walk
from tests.repos import git, make_repo

Count = Callable[[str], int]


@pytest.fixture(scope="module")
def count(gemma_path: Path) -> Count:
    import llama_cpp

    llama = llama_cpp.Llama(model_path=str(gemma_path), vocab_only=True, verbose=False)
    return lambda text: len(llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))


def module(name: str, functions: int, topic: str) -> str:
    """A plausible module: documented functions about `topic`, each a few lines long."""
    parts = [f'"""{topic.capitalize()} helpers."""\n\nimport re\n']
    for i in range(functions):
        parts.append(
            textwrap.dedent(
                f'''
                def {name}_{topic}_{i}(value, strict=False):
                    """Return the {topic} of value number {i}, or raise ValueError when strict."""
                    cleaned = re.sub(r"\\s+", " ", str(value)).strip()
                    if strict and not cleaned:
                        raise ValueError("empty {topic} value")
                    return cleaned[: {i + 10}]
                '''
            )
        )
    return "".join(parts)


DATES = '''"""Date parsing."""

import datetime


class DateParser:
    """Parses ISO dates."""

    def __init__(self, strict=True):
        self.strict = strict

    def parse_date(self, text):
        """Parse YYYY-MM-DD; February 30th must raise ValueError."""
        year, month, day = (int(p) for p in text.split("-"))
        return datetime.date(year, month, min(day, 28))


def format_date(date):
    return date.isoformat()
'''
DATE_TESTS = """from dates import DateParser


def test_parse_date_rejects_february_30():
    try:
        DateParser().parse_date("2024-02-30")
    except ValueError:
        return
    raise AssertionError("no error")
"""
ISSUE = "DateParser.parse_date('2024-02-30') returns February 28th instead of raising ValueError."


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    files = {"dates.py": DATES, "tests/test_dates.py": DATE_TESTS, "README.md": "# dates\n"}
    for topic in ("colour", "money", "network", "storage", "render", "audio"):
        files[f"pkg/{topic}.py"] = module(topic, 12, topic)
    return make_repo(tmp_path / "repo", files)


def test_the_budget_is_never_exceeded(repo: Path, count: Count) -> None:
    issue = "the colour and money helpers return wrong values for strict inputs; storage too"
    for budget in (120, 400, 900, 2000, 5000, 12000):
        pack = build_pack(repo, issue, budget, count)
        assert pack.manifest.total_tokens <= budget
        assert count(pack.text) == pack.manifest.total_tokens  # the total is the exact count
    filled = build_pack(repo, issue, 2000, count)
    assert filled.manifest.total_tokens > 1000  # the budget is a ceiling, but relevant code uses it


def test_the_issue_names_the_code_and_its_test_comes_along(repo: Path, count: Count) -> None:
    pack = build_pack(repo, ISSUE, 4000, count)
    entries = {f.path: f for f in pack.manifest.files}
    assert entries["dates.py"].mode == "full"
    assert "def parse_date(self, text):" in pack.text
    assert entries["tests/test_dates.py"].role == "test" and entries["tests/test_dates.py"].mode != "map"
    assert "## Repository context" in pack.text and "Left out:" in pack.text


def test_a_small_repository_is_not_padded_with_unrelated_code(repo: Path, count: Count) -> None:
    pack = build_pack(repo, ISSUE, 200_000, count)
    coded = [f.path for f in pack.manifest.files if f.mode != "map"]
    assert "dates.py" in coded
    assert not [p for p in coded if p.startswith("pkg/")]  # 200K of room, but nothing relevant there
    assert pack.manifest.total_tokens < 2000


def test_excerpts_hold_whole_definitions(tmp_path: Path, count: Count) -> None:
    big = module("report", 80, "invoice")  # too big to come in full at this budget
    root = make_repo(tmp_path / "r", {"billing.py": big, "other.py": module("x", 3, "weather")})
    pack = build_pack(root, "report_invoice_41 drops the last character of an invoice value", 1500, count)
    entry = next(f for f in pack.manifest.files if f.path == "billing.py")
    assert entry.mode == "snippets" and "report_invoice_41" in entry.symbols
    index = load_index(root, None)
    record = next(f.record for f in index.files if f.path == "billing.py")
    lines = (root / "billing.py").read_text().split("\n")
    for symbol in record.symbols:
        shown = [(a, b) for a, b in entry.ranges if a <= symbol.end and symbol.start <= b]
        if shown:  # any definition the excerpt touches, it shows whole
            assert any(a <= symbol.start and symbol.end <= b for a, b in shown), symbol
            assert "\n".join(lines[symbol.start - 1 : symbol.end]) in pack.text


def test_ignored_files_and_a_tasks_answers_are_never_read(tmp_path: Path, count: Count) -> None:
    root = make_repo(tmp_path / "task", {"dates.py": DATES, ".gitignore": "build/\n"})
    (root / ".git" / "info" / "exclude").write_text(".task/\n")
    answer = "def parse_date(self, text):  # GOLD-ANSWER-7f3a\n    raise ValueError\n"
    (root / ".task" / "gold").mkdir(parents=True)
    (root / ".task" / "gold" / "dates.py").write_text(answer)
    (root / ".task" / "task.json").write_text(json.dumps({"issue": ISSUE, "gold": "GOLD-ANSWER-7f3a"}))
    (root / "build").mkdir()
    (root / "build" / "dates.py").write_text(answer)
    listed = [e.path for e in walk(root).entries]
    assert listed == [".gitignore", "dates.py"]
    cache = tmp_path / "cache"
    pack = build_pack(root, ISSUE + " GOLD-ANSWER-7f3a", 8000, count, cache_dir=cache)
    assert "GOLD-ANSWER" not in pack.text.replace(ISSUE + " GOLD-ANSWER-7f3a", "")
    assert all(b"GOLD-ANSWER" not in p.read_bytes() for p in cache.iterdir())


def test_binary_huge_generated_broken_and_linked_files(tmp_path: Path, count: Count) -> None:
    outside = tmp_path / "outside.py"
    outside.write_text("def outside_secret():\n    return 'OUTSIDE-MARK'\n")
    files = {
        "dates.py": DATES,
        "logo.png": "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        "big.py": "x = 1  # parse_date\n" * 60_000,  # 1.2 MB: listed, never parsed
        "vendor/app.min.js": "function parse_date(a){return a}" * 800,
        "broken.py": "def parse_date(:\n    return 'BROKEN'\n",
        "latin1.py": "# caf\xe9\ndef parse_date_latin(text):\n    return text\n",
    }
    root = make_repo(tmp_path / "mixed", files)
    (root / "latin1.py").write_bytes(
        "# caf\xe9\ndef parse_date_latin(text):\n    return text\n".encode("latin-1")
    )
    os.symlink(outside, root / "linked_outside.py")
    os.symlink(root / "dates.py", root / "linked_dates.py")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "more")
    index = load_index(root, None)
    status = {f.path: f.record.status for f in index.files}
    assert status["logo.png"] == "binary" and status["big.py"] == "large"
    assert status["vendor/app.min.js"] == "generated" and status["latin1.py"] == "code"
    assert "syntax errors" in next(f.record.note for f in index.files if f.path == "broken.py")
    assert index.stats.symlinks == 2 and "linked_outside.py" not in status
    pack = build_pack(root, ISSUE, 6000, count)
    assert "OUTSIDE-MARK" not in pack.text and "IHDR" not in pack.text
    assert "x = 1  # parse_date\nx = 1" not in pack.text
    assert pack.manifest.total_tokens <= 6000


def test_warm_runs_parse_only_changed_files_and_worktrees_share_the_cache(repo: Path, count: Count) -> None:
    cache = repo / ".git" / ".agent" / "cache" / "context"
    first = build_pack(repo, ISSUE, 3000, count, cache_dir=cache)
    assert first.manifest.index.parsed == first.manifest.index.files
    again = build_pack(repo, ISSUE, 3000, count, cache_dir=cache)
    assert again.manifest.index.parsed == 0 and again.text == first.text
    (repo / "pkg" / "money.py").write_text(module("money", 3, "money"))
    edited = build_pack(repo, ISSUE, 3000, count, cache_dir=cache)
    assert edited.manifest.index.parsed == 1
    worktree = repo.parent / "wt"
    git(repo, "worktree", "add", "-q", str(worktree))
    fresh = build_pack(worktree, ISSUE, 3000, count, cache_dir=cache)  # new paths, same contents
    assert fresh.manifest.index.parsed == 0
    (cache / "records.pkl").write_bytes(b"not a pickle")
    rebuilt = build_pack(repo, ISSUE, 3000, count, cache_dir=cache)
    assert rebuilt.manifest.index.parsed == rebuilt.manifest.index.files


def test_parsing_in_worker_processes_gives_the_same_index(repo: Path) -> None:
    serial = load_index(repo, None, workers=1)
    parallel = load_index(repo, None, workers=2, parallel_bytes=0)
    assert parallel.stats.workers == 2
    assert [(f.path, f.digest, f.record) for f in parallel.files] == [
        (f.path, f.digest, f.record) for f in serial.files
    ]


def test_stack_frames_and_paths_in_the_issue(tmp_path: Path, count: Count) -> None:
    files = {f"lib/{t}.py": module(t, 15, t) for t in ("alpha", "beta", "gamma")}
    root = make_repo(tmp_path / "st", files)
    issue = textwrap.dedent(
        """
        Crash when loading:
        Traceback (most recent call last):
          File "/usr/lib/python3/site-packages/lib/gamma.py", line 40, in gamma_gamma_4
        ValueError: empty gamma value
        """
    )
    pack = build_pack(root, issue, 1200, count)
    entry = next(f for f in pack.manifest.files if f.path == "lib/gamma.py")
    assert "gamma_gamma_4" in entry.symbols
    assert any("stack frame" in r for r in entry.reasons)


def test_budget_resolution_and_parsing() -> None:
    assert resolve_budget(None, 16384) == 8192
    assert resolve_budget("auto", 1_000_000) == 200_000
    assert resolve_budget(None, 4096) == 1024  # a small window keeps room for the conversation
    assert resolve_budget(50_000, 32768) == 29696  # capped to what the window can hold
    assert resolve_budget(6000, 32768) == 6000
    assert [parse_tokens(t) for t in ("8000", "32k", "0.2M", " 12 K ")] == [8000, 32000, 200_000, 12000]
    with pytest.raises(ValueError, match="not a token count"):
        parse_tokens("lots")


def test_cli_prints_the_pack_the_manifest_and_stats(
    repo: Path, gemma_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--repo", str(repo), "context", ISSUE, "--budget", "3k", "--model", str(gemma_path)]
    assert main([*base, "--json"]) == 0
    out, err = capsys.readouterr()
    manifest = json.loads(out)
    assert manifest["budget"] == 3000 and 0 < manifest["total_tokens"] <= 3000
    entry = next(f for f in manifest["files"] if f["path"] == "dates.py")
    assert entry["mode"] == "full" and entry["tokens"] > 0 and entry["tokens_exact"] is True
    assert {"path", "mode", "ranges", "tokens"} <= set(entry)
    assert "repository context:" in err and gemma_path.name in err
    assert main(base) == 0
    assert "def parse_date(self, text):" in capsys.readouterr().out
    assert main([*base, "--stats"]) == 0
    assert "dates.py" in capsys.readouterr().out
    assert (repo / ".git" / ".agent" / "cache" / "context" / "records.pkl").is_file()


def test_the_helpers_the_chosen_code_calls_come_along(tmp_path: Path, count: Count) -> None:
    settings = textwrap.dedent(
        """
        import os

        from appconf.convert import to_flag, to_port


        class Settings:
            debug = False
            port = 8000

            @classmethod
            def from_env(cls, env=None):
                env = dict(os.environ if env is None else env)
                s = cls()
                if "DEBUG" in env:
                    s.debug = to_flag(env["DEBUG"])
                if "PORT" in env:
                    s.port = to_port(env["PORT"])
                return s
        """
    )
    convert = "def to_flag(text):\n    return bool(text)\n\n\ndef to_port(text):\n    return int(text)\n"
    files = {"appconf/settings.py": settings, "appconf/convert.py": convert}
    for i in range(6):  # unrelated code that shares the issue's words
        files[f"appconf/extra_{i}.py"] = module(f"env{i}", 4, "settings")
    root = make_repo(tmp_path / "repo", files)
    pack = build_pack(root, "Settings.from_env() turns DEBUG=false into debug=True", 8000, count)
    modes = {entry.path: entry.mode for entry in pack.manifest.files}
    assert modes.get("appconf/settings.py") == "full"
    assert "appconf/convert.py" in modes and modes["appconf/convert.py"] != "map"
    assert "return bool(text)" in pack.text


def test_the_bm25_index_scores_as_bm25s_does_from_its_own_tokens() -> None:
    import bm25s
    import numpy as np

    from agent.context.lexical import _bm25

    docs = [
        "parse_date parse date timezone",
        "format_date format date date",
        "",
        "median even length median",
        "timezone offset utc parse",
    ]
    ours = _bm25(docs)
    reference = bm25s.BM25(k1=1.2, b=0.75)
    reference.index([d.split() or [""] for d in docs], show_progress=False)
    for query in (["date"], ["parse", "timezone"], ["median", "utc", "date"]):
        assert np.allclose(ours.get_scores(query), reference.get_scores(query)), query
