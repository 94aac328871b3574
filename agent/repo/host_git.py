"""git run on the host in a tree the sandboxed side can write: no setting it could plant is obeyed.

The agent's worktree is written by the model's commands (in the sandbox) and holds a cloned
repository's files; git on the host must run no program either of them chose. Every host-side git
call on the worktree (and the agent's pushes and undo commits) goes through `HostGit`, which:

- reads no system or global config (GIT_CONFIG_NOSYSTEM, GIT_CONFIG_GLOBAL=/dev/null). What is
  left is the repository's own `config` (and its `include.path`/`includeIf` files, resolved
  relative to it), and `config.worktree`: both in the git dir, which the sandbox mounts read-only,
  and written by the user. A few settings that only decide what is ignored and how text is stored
  (CARRIED) are taken over from the user's system and global config;
- names the git dir and the work tree itself (GIT_DIR, GIT_WORK_TREE), so no `.git` entry in the
  tree is followed, and drops every GIT_* variable it inherited;
- turns off, as command-line-scope settings (they outrank every config file, and git hands them to
  each git it starts, a submodule's included: GIT_CONFIG_COUNT is kept by `prepare_other_repo_env`)
  everything that runs a program: fsmonitor, hooks (`core.hooksPath=/dev/null`: nothing can exist
  below it), the clean/smudge/process filters of every driver the remaining config defines (an
  empty command is no filter), submodule recursion, signing, auto gc and maintenance, and for the
  worktree every transport (`protocol.allow=never`) and credential helper. `diff`, `log` and
  `show` get `--no-ext-diff --no-textconv` (DIFF_FLAGS): an external diff or textconv a
  `.gitattributes` names is not run.

It cannot stop `git add` from running `git status` inside a nested repository with that
repository's own config (a filter driver there still runs): `agent/repo/strays.py` removes nested
repositories before anything is staged. tests/repo/test_host_git.py checks these claims against git.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

GIT_TIMEOUT = 600.0
NO_HOOKS = os.devnull  # a file, so no hook can exist below it
DIFF_FLAGS = ("--no-ext-diff", "--no-textconv", "--no-color", "--submodule=short")
DIFF_COMMANDS = frozenset({"diff", "log", "show"})  # porcelain that honours diff drivers: DIFF_FLAGS added

HARDENING: tuple[tuple[str, str], ...] = (
    ("core.fsmonitor", "false"),
    ("core.hooksPath", NO_HOOKS),
    ("core.quotePath", "true"),  # file names in diffs stay ASCII
    ("diff.submodule", "short"),
    ("diff.ignoreSubmodules", "all"),
    ("diff.noprefix", "false"),  # patches keep a/ and b/: `git apply` takes them
    ("diff.mnemonicPrefix", "false"),
    ("submodule.recurse", "false"),
    ("fetch.recurseSubmodules", "false"),
    ("push.recurseSubmodules", "no"),
    ("status.submoduleSummary", "false"),
    ("commit.gpgSign", "false"),
    ("log.showSignature", "false"),
    ("tag.gpgSign", "false"),
    ("gc.auto", "0"),
    ("maintenance.auto", "false"),
)
OFFLINE: tuple[tuple[str, str], ...] = (("protocol.allow", "never"), ("credential.helper", ""))
# from the user's system and global config: what is ignored, how text is stored; none runs anything
CARRIED = frozenset(
    {
        "core.excludesfile",
        "core.attributesfile",
        "core.autocrlf",
        "core.eol",
        "core.safecrlf",
        "core.ignorecase",
        "core.precomposeunicode",
        "core.symlinks",
        "core.checkroundtripencoding",
    }
)
FILTER_COMMANDS = ("clean", "smudge", "process")
# kept from the environment for a push with the user's own config: how to reach the remote
TRANSPORT_ENV = ("GIT_SSH", "GIT_ASKPASS", "GIT_SSL_", "GIT_HTTP_", "GIT_PROXY_", "GIT_TRACE", "GIT_CURL_")


def display_path(path: str) -> str:
    """A path as text anyone can print or store as JSON: bytes that are not UTF-8 become U+FFFD."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


class HostGitError(Exception):
    """A git command failed; the message carries git's own explanation."""


def _settings_env(pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    env = {"GIT_CONFIG_COUNT": str(len(pairs))}
    for n, (key, value) in enumerate(pairs):
        env[f"GIT_CONFIG_KEY_{n}"] = key
        env[f"GIT_CONFIG_VALUE_{n}"] = value
    return env


def _inherited(user_config: bool) -> dict[str, str]:
    """Our environment without git's variables (with the user's config: minus the transport ones)."""

    def kept(name: str) -> bool:
        return not name.startswith("GIT_") or (user_config and name.startswith(TRANSPORT_ENV))

    return {name: value for name, value in os.environ.items() if kept(name)}


def _config_entries(raw: bytes) -> list[tuple[str, str, str]]:
    """(scope, key, value) from `git config --list -z --show-scope`."""
    items = raw.split(b"\0")
    entries = []
    for scope, entry in zip(items[0::2], items[1::2], strict=False):
        key, _, value = entry.decode("utf-8", "surrogateescape").partition("\n")
        entries.append((scope.decode(), key, value))
    return entries


def isolation_settings(entries: Iterable[tuple[str, str, str]], user_config: bool) -> list[tuple[str, str]]:
    """The command-line settings for a tree whose config is `entries`: carried, filters off, hardening."""
    read = {"system", "global", "local", "worktree"} if user_config else {"local", "worktree"}
    carried: list[tuple[str, str]] = []
    drivers: dict[str, None] = {}
    for scope, key, value in entries:
        if scope in {"system", "global"} and key.lower() in CARRIED and not user_config:
            carried.append((key, value))
        section, _, rest = key.partition(".")
        if scope in read and section.lower() == "filter" and "." in rest:
            drivers[rest.rsplit(".", 1)[0]] = None
    off = [(f"filter.{name}.{command}", "") for name in drivers for command in FILTER_COMMANDS]
    off += [(f"filter.{name}.required", "false") for name in drivers]
    return [*carried, *off, *HARDENING, *(() if user_config else OFFLINE)]


class HostGit:
    """git in `work_tree` (git dir `git_dir`, found once when not given), isolated as described above.

    `user_config`: also read the user's system and global config (a push: credential helpers,
    proxies, `insteadOf`), still with hooks, fsmonitor, filters and submodule recursion off.
    `settings`: more command-line settings (a push's credential helper); `env`: more environment
    (the variable that helper reads); `timeout`: seconds before a git command is killed.
    """

    def __init__(
        self,
        work_tree: Path,
        git_dir: Path | None = None,
        *,
        index: Path | None = None,
        user_config: bool = False,
        settings: Sequence[tuple[str, str]] = (),
        env: Mapping[str, str] | None = None,
        timeout: float = GIT_TIMEOUT,
    ) -> None:
        self.work_tree = work_tree
        self.timeout = timeout
        self.extra_env = dict(env or {})
        self.index = index
        self.user_config = user_config
        self.settings = tuple(settings)
        self._git_dir = git_dir
        self._isolation: list[tuple[str, str]] | None = None

    def with_index(self, index: Path) -> HostGit:
        """The same repository with a private index (GIT_INDEX_FILE)."""
        twin = HostGit(
            self.work_tree,
            self._git_dir,
            index=index,
            user_config=self.user_config,
            settings=self.settings,
            env=self.extra_env,
            timeout=self.timeout,
        )
        twin._isolation = self._isolation
        return twin

    @property
    def git_dir(self) -> Path:
        if self._git_dir is None:
            found = self._probe("rev-parse", "--absolute-git-dir").decode("utf-8", "surrogateescape")
            self._git_dir = Path(found.strip())
        return self._git_dir

    def _probe(self, *args: str) -> bytes:
        """git with the user's configuration as it stands: only to read it (rev-parse, config)."""
        env = _inherited(user_config=True)
        if self._git_dir is not None:
            env |= {"GIT_DIR": str(self._git_dir), "GIT_WORK_TREE": str(self.work_tree)}
        return self._exec(args, env, None)

    def environment(self) -> dict[str, str]:
        git_dir = self.git_dir  # found first: the config is then read from that git dir
        if self._isolation is None:
            listing = self._probe("config", "--list", "-z", "--show-scope", "--includes")
            self._isolation = isolation_settings(_config_entries(listing), self.user_config)
        env = _inherited(self.user_config)
        if not self.user_config:
            env |= {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_ATTR_NOSYSTEM": "1"}
        env |= {"GIT_DIR": str(git_dir), "GIT_WORK_TREE": str(self.work_tree), "GIT_TERMINAL_PROMPT": "0"}
        if self.index is not None:
            env["GIT_INDEX_FILE"] = str(self.index)
        return env | self.extra_env | _settings_env([*self._isolation, *self.settings])

    def run(self, *args: str, stdin: bytes | None = None, ok_codes: Sequence[int] = (0,)) -> bytes:
        """git's stdout; raises HostGitError when it exits with a code not in `ok_codes`."""
        return self._exec(args, self.environment(), stdin, ok_codes)

    def status(self, *args: str) -> int:
        """git's exit code alone (`diff --quiet` and the like)."""
        return self._complete(args, self.environment(), None).returncode

    def text(self, *args: str, stdin: bytes | None = None) -> str:
        return self.run(*args, stdin=stdin).decode("utf-8", "replace").strip()

    def paths(self, *args: str) -> list[str]:
        """NUL-separated paths git printed (`-z`), as str (undecodable bytes kept as surrogates)."""
        return [os.fsdecode(raw) for raw in self.run(*args).split(b"\0") if raw]

    def _exec(
        self, args: Sequence[str], env: Mapping[str, str], stdin: bytes | None, ok_codes: Sequence[int] = (0,)
    ) -> bytes:
        done = self._complete(args, env, stdin)
        if done.returncode not in ok_codes:
            detail = done.stderr.decode("utf-8", "replace").strip()
            raise HostGitError(f"git {args[0]} failed (exit code {done.returncode}): {detail}")
        return done.stdout

    def _complete(
        self, args: Sequence[str], env: Mapping[str, str], stdin: bytes | None
    ) -> subprocess.CompletedProcess[bytes]:
        if args and args[0] in DIFF_COMMANDS:
            args = [args[0], *DIFF_FLAGS, *args[1:]]
        try:
            return subprocess.run(
                ["git", "--no-pager", *args],
                cwd=self.work_tree,
                env=dict(env),
                capture_output=True,
                timeout=self.timeout,
                check=False,
                input=stdin or b"",  # git never waits on our stdin
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise HostGitError(f"git {args[0]} could not run: {exc}") from exc
