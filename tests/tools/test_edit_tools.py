"""apply_patch, replace_lines, the syntax check and the journal, on real files through the real toolbox."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from agent.messages import ToolCall
from agent.repo.journal import EditJournal, UndoError
from sandbox.subprocess_sandbox import SubprocessSandbox
from tests.repos import make_repo
from tools import apply_patch, create_file, edit_file, read_file, replace_lines
from tools.base import ToolContext
from tools.registry import Toolbox, ToolOutcome

APP = '''import os


def load(path):
    """Read a config file."""
    with open(path) as handle:
        return handle.read()


def save(path, text):
    with open(path, "w") as handle:
        handle.write(text)
    return len(text)
'''
UTIL = "def double(x):\n    return x * 2\n"


def sha(text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()[:8]


@pytest.fixture
def ctx(tmp_path: Path) -> ToolContext:
    root = make_repo(
        tmp_path / "repo",
        {"app.py": APP, "util.py": UTIL, "web/main.js": "function f(a) {\n  return a;\n}\n"},
    )
    return ToolContext(root=root, sandbox=SubprocessSandbox())


def call(ctx: ToolContext, name: str, **arguments: object) -> ToolOutcome:
    box = Toolbox([read_file.TOOL, edit_file.TOOL, create_file.TOOL, apply_patch.TOOL, replace_lines.TOOL])
    return box.call(ToolCall(id="t", name=name, arguments=arguments), ctx)


def text(ctx: ToolContext, rel: str) -> str:
    return (ctx.root / rel).read_text()


# ---- apply_patch: unified diffs -----------------------------------------------------------------

SAVE_DIFF = """--- a/app.py
+++ b/app.py
@@ -11,4 +11,5 @@ def save(path, text):
 def save(path, text):
     with open(path, "w") as handle:
         handle.write(text)
+        handle.flush()
     return len(text)
"""


def test_unified_diff_applies_and_shows_the_new_lines(ctx: ToolContext) -> None:
    out = call(ctx, "apply_patch", patch=SAVE_DIFF)
    assert out.error is None, out.result.output
    assert text(ctx, "app.py") == APP.replace("write(text)\n", "write(text)\n        handle.flush()\n")
    assert f"edited app.py (14 lines, hash {sha(text(ctx, 'app.py'))}):" in out.result.output
    assert "13|         handle.flush()" in out.result.output


@pytest.mark.parametrize(
    "sloppy",
    [
        SAVE_DIFF.replace("@@ -11,4 +11,5 @@", "@@ -40,4 +40,5 @@"),  # stale line numbers
        SAVE_DIFF.replace("@@ -11,4 +11,5 @@", "@@ -11,9 +11,2 @@"),  # wrong counts
        SAVE_DIFF.replace("@@ -11,4 +11,5 @@ def save(path, text):", "@@ ... @@"),  # no numbers at all
        "\n".join(line[1:] if line.startswith(" ") else line for line in SAVE_DIFF.splitlines()),  # no marker
        SAVE_DIFF.replace("\n", "\r\n"),  # CRLF
        "```diff\n" + SAVE_DIFF + "```\n",  # a markdown fence
    ],
)
def test_sloppy_unified_diffs_still_apply_exactly(ctx: ToolContext, sloppy: str) -> None:
    out = call(ctx, "apply_patch", patch=sloppy)
    assert out.error is None, out.result.output
    assert text(ctx, "app.py") == APP.replace("write(text)\n", "write(text)\n        handle.flush()\n")


def test_a_crlf_file_keeps_its_line_endings(ctx: ToolContext) -> None:
    (ctx.root / "app.py").write_bytes(APP.replace("\n", "\r\n").encode())
    assert call(ctx, "apply_patch", patch=SAVE_DIFF).error is None
    expected = APP.replace("write(text)\n", "write(text)\n        handle.flush()\n").replace("\n", "\r\n")
    assert (ctx.root / "app.py").read_bytes() == expected.encode()


def test_multi_file_patches_are_all_or_nothing(ctx: ToolContext) -> None:
    util_hunk = "@@ -1,2 +1,2 @@\n def triple(x):\n-    return x * 3\n+    return 3 * x\n"
    bad = SAVE_DIFF + "--- a/util.py\n+++ b/util.py\n" + util_hunk
    out = call(ctx, "apply_patch", patch=bad)
    assert out.error == "tool_error" and "hunk 1" in out.result.output and "util.py" in out.result.output
    assert text(ctx, "app.py") == APP and list(ctx.edits) == []
    good = bad.replace("triple", "double").replace("x * 3", "x * 2")
    out = call(ctx, "apply_patch", patch=good)
    assert out.error is None and text(ctx, "util.py") == "def double(x):\n    return 3 * x\n"
    assert [e.path for e in ctx.edits] == ["app.py", "util.py"]


def test_new_deleted_and_renamed_files_in_a_git_style_diff(ctx: ToolContext) -> None:
    patch = (
        "diff --git a/new.py b/new.py\nnew file mode 100644\n--- /dev/null\n+++ b/new.py\n@@ -0,0 +1,2 @@\n"
        "+X = 1\n+Y = 2\n"
        "diff --git a/util.py b/util.py\ndeleted file mode 100644\n--- a/util.py\n+++ /dev/null\n"
        "@@ -1,2 +0,0 @@\n-def double(x):\n-    return x * 2\n"
    )
    out = call(ctx, "apply_patch", patch=patch)
    assert out.error is None, out.result.output
    assert text(ctx, "new.py") == "X = 1\nY = 2\n" and not (ctx.root / "util.py").exists()
    assert "deleted util.py" in out.result.output and "created new.py" in out.result.output


def test_a_hunk_without_context_is_refused(ctx: ToolContext) -> None:
    out = call(ctx, "apply_patch", patch="--- a/app.py\n+++ b/app.py\n@@ -3,0 +4,1 @@\n+import sys\n")
    assert out.error == "tool_error" and "no context lines" in out.result.output
    assert text(ctx, "app.py") == APP


def test_an_ambiguous_hunk_with_a_stale_header_is_refused(ctx: ToolContext) -> None:
    patch = (
        "--- a/app.py\n+++ b/app.py\n@@ -30,2 +30,2 @@\n     with open(path) as handle:\n"
        "-        return handle.read()\n+        return handle.read(100)\n"
    )
    (ctx.root / "app.py").write_text(
        APP + "\n\ndef again(path):\n    with open(path) as handle:\n        return handle.read()\n"
    )
    out = call(ctx, "apply_patch", patch=patch)
    assert out.error == "tool_error" and "matches 2 places" in out.result.output


# ---- apply_patch: the envelope ------------------------------------------------------------------


def test_envelope_update_add_delete_and_move(ctx: ToolContext) -> None:
    patch = """*** Begin Patch
*** Update File: app.py
@@ def load(path):
     with open(path) as handle:
-        return handle.read()
+        return handle.read().strip()
*** Add File: pkg/extra.py
+VALUE = 3
*** Delete File: web/main.js
*** Update File: util.py
*** Move to: lib/util.py
@@
 def double(x):
-    return x * 2
+    return x + x
*** End Patch
"""
    out = call(ctx, "apply_patch", patch=patch)
    assert out.error is None, out.result.output
    assert "return handle.read().strip()" in text(ctx, "app.py") and 'open(path, "w")' in text(ctx, "app.py")
    assert text(ctx, "pkg/extra.py") == "VALUE = 3\n" and not (ctx.root / "web/main.js").exists()
    assert (
        text(ctx, "lib/util.py") == "def double(x):\n    return x + x\n"
        and not (ctx.root / "util.py").exists()
    )


def test_envelope_scope_line_picks_between_repeated_blocks(ctx: ToolContext) -> None:
    (ctx.root / "app.py").write_text(
        APP + "\n\ndef again(path):\n    with open(path) as handle:\n        return handle.read()\n"
    )
    patch = (
        "*** Begin Patch\n*** Update File: app.py\n@@ def again(path):\n     with open(path) as handle:\n"
        "-        return handle.read()\n+        return handle.read(1)\n*** End Patch"
    )
    assert call(ctx, "apply_patch", patch=patch).error is None
    assert text(ctx, "app.py").endswith("return handle.read(1)\n") and text(ctx, "app.py").startswith(APP)


def test_unreadable_patches_say_what_format_to_use(ctx: ToolContext) -> None:
    out = call(ctx, "apply_patch", patch="please change load to strip the text")
    assert (
        out.error == "tool_error"
        and "*** Begin Patch" in out.result.output
        and "--- a/path" in out.result.output
    )


# ---- replace_lines ------------------------------------------------------------------------------


def test_replace_lines_uses_the_hash_read_file_shows(ctx: ToolContext) -> None:
    read = call(ctx, "read_file", path="util.py")
    digest = read.result.data["hash"]
    assert f"hash {digest}" in read.result.output.splitlines()[0] and digest == sha(UTIL)
    out = call(
        ctx,
        "replace_lines",
        path="util.py",
        start_line=2,
        end_line=2,
        new_text="    return x + x",
        hash=digest,
    )
    assert out.error is None and text(ctx, "util.py") == "def double(x):\n    return x + x\n"
    assert (
        f"hash {sha(text(ctx, 'util.py'))}" in out.result.output
        and "2|     return x + x" in out.result.output
    )


def test_replace_lines_refuses_a_file_changed_since_it_was_read(ctx: ToolContext) -> None:
    digest = call(ctx, "read_file", path="util.py").result.data["hash"]
    (ctx.root / "util.py").write_text("# header\n" + UTIL)
    out = call(ctx, "replace_lines", path="util.py", start_line=2, end_line=2, new_text="x", hash=digest)
    assert out.error == "tool_error" and "read it again" in out.result.output
    assert text(ctx, "util.py") == "# header\n" + UTIL


def test_replace_lines_refuses_new_text_that_repeats_the_next_line(ctx: ToolContext) -> None:
    out = call(
        ctx,
        "replace_lines",
        path="util.py",
        start_line=1,
        end_line=1,
        new_text="def twice(x):\n    return x * 2",
        hash=sha(UTIL),
    )
    assert out.error == "tool_error" and "end_line=2" in out.result.output and text(ctx, "util.py") == UTIL


# ---- post-edit syntax check ---------------------------------------------------------------------


def test_an_edit_that_breaks_python_is_not_applied(ctx: ToolContext) -> None:
    out = call(ctx, "edit_file", path="util.py", old_text="    return x * 2", new_text="    return (x * 2")
    assert out.error == "tool_error" and "syntax error at line 2" in out.result.output
    assert "file is unchanged" in out.result.output and ">2|     return (x * 2" in out.result.output
    assert text(ctx, "util.py") == UTIL and list(ctx.edits) == []


def test_a_dropped_closing_parenthesis_is_named(ctx: ToolContext) -> None:
    """Python says only 'invalid syntax' here; the 1.5B model sent the same broken line three times."""
    out = call(
        ctx,
        "edit_file",
        path="util.py",
        old_text="    return x * 2",
        new_text='    raise ValueError(f"bad {x!r} (not a number)" from None',
    )
    assert out.error == "tool_error" and "invalid syntax" in out.result.output
    assert "line 2 opens brackets it does not close: ')' is missing" in out.result.output
    balanced = call(ctx, "edit_file", path="util.py", old_text="    return x * 2", new_text="    return x *")
    assert "does not close" not in balanced.result.output


def test_numbers_in_place_of_indentation_are_dropped_when_the_result_parses(ctx: ToolContext) -> None:
    """The 1.5B model wrote `    1  1  1  s.debug = ...` for a 12-space line, three times running."""
    source = "def load(env):\n    if env:\n        return 1\n    return 0\n"
    (ctx.root / "conf.py").write_text(source)
    old = "if env:\n        return 1\n"
    out = call(ctx, "edit_file", path="conf.py", old_text=old, new_text="if env:\n    1  1  return 2\n")
    assert out.error is None, out.result.output
    assert text(ctx, "conf.py") == "def load(env):\n    if env:\n        return 2\n    return 0\n"
    assert "numbers your new_text had in place of indentation were dropped" in out.result.output
    # a number that starts real code is left alone: the edit is applied as written
    plain = call(
        ctx, "edit_file", path="conf.py", old_text="    return 0\n", new_text="    return 0  # 1 2\n"
    )
    assert plain.error is None and "numbers" not in plain.result.output


def test_a_missing_indented_block_is_caught(ctx: ToolContext) -> None:
    out = call(
        ctx,
        "edit_file",
        path="util.py",
        old_text="    return x * 2\n",
        new_text="    if x:\n    return x * 2\n",
    )
    assert out.error == "tool_error" and "syntax error" in out.result.output and text(ctx, "util.py") == UTIL


def test_an_edit_that_breaks_javascript_is_not_applied(ctx: ToolContext) -> None:
    out = call(ctx, "edit_file", path="web/main.js", old_text="  return a;\n}", new_text="  return a;")
    assert out.error == "tool_error" and "syntax error" in out.result.output
    assert text(ctx, "web/main.js") == "function f(a) {\n  return a;\n}\n"


def test_a_file_broken_before_the_edit_can_still_be_edited(ctx: ToolContext) -> None:
    (ctx.root / "util.py").write_text("def double(x:\n    return x * 2\n")
    out = call(ctx, "edit_file", path="util.py", old_text="x * 2", new_text="x + x")
    assert out.error is None and text(ctx, "util.py") == "def double(x:\n    return x + x\n"


def test_whole_file_rewrites_are_checked_and_truncation_is_refused(ctx: ToolContext) -> None:
    broken = call(ctx, "create_file", path="app.py", content="def load(path:\n", overwrite=True)
    assert broken.error == "tool_error" and "syntax error" in broken.result.output
    cut = call(
        ctx,
        "create_file",
        path="app.py",
        content="import os\n\n# ... rest of the file unchanged\n",
        overwrite=True,
    )
    assert cut.error == "tool_error" and "whole file must be written out" in cut.result.output
    assert text(ctx, "app.py") == APP


def test_new_text_that_leaves_lines_out_is_refused(ctx: ToolContext) -> None:
    out = call(
        ctx,
        "edit_file",
        path="app.py",
        old_text='def save(path, text):\n    with open(path, "w") as handle:',
        new_text="def save(path, text):\n    # ... existing code unchanged",
    )
    assert (
        out.error == "tool_error" and "would be deleted" in out.result.output and text(ctx, "app.py") == APP
    )


def test_edit_file_reindents_a_multi_line_block_that_starts_inside_the_indentation(ctx: ToolContext) -> None:
    out = call(
        ctx,
        "edit_file",
        path="util.py",
        old_text="return x * 2\n",
        new_text="if x is None:\n    return 0\nreturn x * 2\n",
    )
    assert out.error is None, out.result.output
    assert text(ctx, "util.py") == "def double(x):\n    if x is None:\n        return 0\n    return x * 2\n"


def test_edit_file_takes_a_block_whose_first_line_alone_lost_its_indentation(ctx: ToolContext) -> None:
    """The call grammar lets old_text start inside the first line's indentation; the lines after it
    keep the file's, and so do new lines as deep as those. The ladder's map (0 -> 4 for the first
    line, 8 -> 8 for the rest) used to put a nested line at 10 columns, and with a garbled new
    line it answered 'not found, 100% similar' for text that is there."""
    source = (
        "class Settings:\n    @classmethod\n    def load(cls, env):\n        s = cls()\n        return s\n"
    )
    (ctx.root / "conf.py").write_text(source)
    old = "def load(cls, env):\n        s = cls()\n        return s\n"
    (ctx.root / "conf2.py").write_text(source)
    garbled = call(
        ctx, "edit_file", path="conf2.py", old_text=old, new_text="def load(cls, env):\n     1  s = cls()\n"
    )
    assert garbled.error is None and "in place of indentation were dropped" in garbled.result.output
    assert text(ctx, "conf2.py").endswith("    def load(cls, env):\n        s = cls()\n")
    new = "def load(cls, env):\n        s = cls()\n        if env:\n            s.x = 1\n        return s\n"
    out = call(ctx, "edit_file", path="conf.py", old_text=old, new_text=new)
    assert out.error is None, out.result.output
    assert text(ctx, "conf.py") == (
        "class Settings:\n    @classmethod\n    def load(cls, env):\n        s = cls()\n"
        "        if env:\n            s.x = 1\n        return s\n"
    )


# ---- the journal --------------------------------------------------------------------------------


def test_every_edit_is_journaled_and_undone_step_by_step(ctx: ToolContext, tmp_path: Path) -> None:
    ctx.edits = EditJournal(tmp_path / "session.edits")
    call(ctx, "edit_file", path="util.py", old_text="x * 2", new_text="x * 3")
    call(ctx, "create_file", path="notes.txt", content="hello")
    call(ctx, "apply_patch", patch=SAVE_DIFF)
    assert [(e.seq, e.tool, e.path) for e in ctx.edits] == [
        (1, "edit_file", "util.py"),
        (2, "create_file", "notes.txt"),
        (3, "apply_patch", "app.py"),
    ]
    undone = ctx.edits.undo(ctx.root, 2)
    assert [(u.tool, u.path, u.undoes) for u in undone] == [("undo", "app.py", 3), ("undo", "notes.txt", 2)]
    assert text(ctx, "app.py") == APP and not (ctx.root / "notes.txt").exists()
    assert text(ctx, "util.py") == UTIL.replace("x * 2", "x * 3")
    saved = EditJournal.load(tmp_path / "session.edits")
    assert [e.seq for e in saved.pending()] == [1] and len(saved) == 5
    (ctx.root / "util.py").write_text("changed by a shell command\n")
    with pytest.raises(UndoError, match="changed after edit 1"):
        ctx.edits.undo(ctx.root)
    (ctx.root / "util.py").write_text(UTIL.replace("x * 2", "x * 3"))
    ctx.edits.undo(ctx.root)
    assert text(ctx, "util.py") == UTIL
    with pytest.raises(UndoError, match="nothing left to undo"):
        ctx.edits.undo(ctx.root)


def test_an_edit_made_twice_says_it_is_already_applied(ctx: ToolContext) -> None:
    edit = {"path": "app.py", "old_text": "handle.write(text)", "new_text": "handle.write(text.strip())"}
    assert call(ctx, "edit_file", **edit).error is None
    again = call(ctx, "edit_file", **edit)
    assert again.error is not None and "already there (line 12)" in again.result.output
    assert text(ctx, "app.py").count("handle.write(text.strip())") == 1


def test_old_text_in_the_other_quote_style_still_matches_its_one_place(ctx: ToolContext) -> None:
    (ctx.root / "conf.py").write_text('def load(env):\n    debug = flag(env["DEBUG"])\n    return debug\n')
    out = call(
        ctx,
        "edit_file",
        path="conf.py",
        old_text="debug = flag(env['DEBUG'])",
        new_text="debug = flag(env['DEBUG'].lower())",
    )
    assert out.error is None and "same quote" in out.result.output
    assert (
        text(ctx, "conf.py") == "def load(env):\n    debug = flag(env['DEBUG'].lower())\n    return debug\n"
    )


def test_a_python_edit_that_uses_a_name_nothing_defines_says_so_and_stays_applied(ctx: ToolContext) -> None:
    out = call(ctx, "edit_file", path="app.py", old_text="return len(text)", new_text="return len(txt)")
    assert out.error is None and text(ctx, "app.py").endswith("    return len(txt)\n")
    assert "note: undefined name 'txt' (line 13): new with this edit" in out.result.output
    # a problem the file already had is not the edit's doing, and a fixed one is not reported
    again = call(ctx, "edit_file", path="app.py", old_text="os\n", new_text="os\nimport sys\n")
    assert again.error is None and "undefined" not in again.result.output
    fixed = call(ctx, "edit_file", path="app.py", old_text="return len(txt)", new_text="return len(text)")
    assert fixed.error is None and "undefined" not in fixed.result.output
    js = call(ctx, "edit_file", path="web/main.js", old_text="return a;", new_text="return b;")
    assert js.error is None and "undefined" not in js.result.output  # Python only


def test_the_undefined_name_note_covers_every_editing_tool(ctx: ToolContext) -> None:
    patch = "--- a/util.py\n+++ b/util.py\n@@ -1,2 +1,2 @@\n def double(x):\n-    return x * 2\n"
    patch += "+    return y * 2\n"
    out = call(ctx, "apply_patch", patch=patch)
    assert out.error is None and "undefined name 'y' (line 2)" in out.result.output
    made = call(ctx, "create_file", path="new_mod.py", content="def f():\n    return missing\n")
    assert made.error is None and "undefined name 'missing' (line 2)" in made.result.output


def test_an_edit_that_changes_nothing_says_where_the_text_is_or_that_it_is_not_there(
    ctx: ToolContext,
) -> None:
    same = call(ctx, "edit_file", path="app.py", old_text="return len(text)", new_text="return len(text)")
    assert same.error is not None and "in app.py already (line 13)" in same.result.output
    assert "13|     return len(text)" in same.result.output
    absent = call(ctx, "edit_file", path="app.py", old_text="return size", new_text="return size")
    assert absent.error is not None and "not in app.py either" in absent.result.output
    assert text(ctx, "app.py") == APP


def test_old_text_that_is_the_file_name_points_at_create_file(ctx: ToolContext) -> None:
    for old in ("app.py", "### app.py", "app.py\n"):
        out = call(ctx, "edit_file", path="app.py", old_text=old, new_text="app.py\n\nimport os\n")
        assert out.error is not None and "create_file with overwrite=true" in out.result.output
    assert text(ctx, "app.py") == APP


def test_an_edit_that_leaves_the_file_as_it_is_is_refused(ctx: ToolContext) -> None:
    # old and new text differ only where the whitespace ladder makes them equal
    out = call(ctx, "edit_file", path="app.py", old_text="return len(text)  ", new_text="return len(text)")
    assert out.error is not None and "exactly as it is" in out.result.output
    assert text(ctx, "app.py") == APP and len(ctx.edits) == 0
