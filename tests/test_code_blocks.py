"""Fenced code blocks in a reply (agent/loop/repair.py)."""

from __future__ import annotations

from agent.loop.repair import close_open_fence, code_blocks

REPLY = """The regex leaves out the seconds unit. In `timeutil/duration.py`:

```python
_PART = re.compile(r"(\\d+)([hms])")
```

Then run it:

```bash
pytest -q
```
"""


def test_blocks_with_their_language_and_the_file_named_before_them() -> None:
    blocks = code_blocks(REPLY)
    assert [b.language for b in blocks] == ["python", "bash"]
    assert blocks[0].code == '_PART = re.compile(r"(\\d+)([hms])")\n'
    assert blocks[0].path == "timeutil/duration.py" and blocks[0].closed
    assert blocks[0].is_code and not blocks[1].is_code


def test_a_file_named_in_the_first_line_and_a_bare_fence() -> None:
    blocks = code_blocks("Fixed:\n```\n# stats/central.py\ndef median(xs):\n    return 1\n```\n")
    assert blocks[0].path == "stats/central.py" and blocks[0].language == ""
    assert blocks[0].code.startswith("# stats/central.py\ndef median")


def test_a_block_cut_at_the_reply_end_counts_and_gets_its_fence_closed() -> None:
    text = "The fix:\n```python\ndef f():\n    return 2"
    (block,) = code_blocks(text)
    assert not block.closed and block.code == "def f():\n    return 2\n"
    assert close_open_fence(text) == text + "\n```"
    assert close_open_fence(REPLY) == REPLY


def test_a_longer_fence_holds_a_shorter_one_and_tildes_work() -> None:
    text = "````markdown\n```python\nx = 1\n```\n````\n~~~py\ny = 2\n~~~\n"
    blocks = code_blocks(text)
    assert [b.language for b in blocks] == ["markdown", "py"]
    assert blocks[0].code == "```python\nx = 1\n```\n" and blocks[1].code == "y = 2\n"


def test_no_blocks_in_plain_text() -> None:
    assert code_blocks("The bug is in the regular expression.") == []
