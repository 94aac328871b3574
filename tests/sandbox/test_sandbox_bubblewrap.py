"""The bubblewrap backend's plumbing: mount plan, selection and fallback, policies, approval, setup."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from git import Repo

from agent.build import command_sandbox, setup_sandbox
from agent.config import AgentConfig, ConfigError, load_config
from sandbox.approval import ApprovalRequest, ApprovalSandbox
from sandbox.bubblewrap import BubblewrapSandbox, BwrapInfo, SandboxUnavailable, diagnose, probe_bwrap
from sandbox.config import SandboxConfig
from sandbox.egress import PROXIED
from sandbox.mounts import MountError, git_paths, plan_mounts, venv_paths
from sandbox.select import NO_ISOLATION_MODE, run_setup
from tests.repos import git, median_repo
from tools.base import ToolContext

AGENT = [sys.executable, "-m", "agent.cli"]


@pytest.fixture(scope="module")
def bwrap() -> BwrapInfo:
    return probe_bwrap()


def test_the_mount_plan_hides_home_and_tmp_and_reexposes_what_commands_need(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    tool = home / ".pyenv" / "versions" / "3.x"
    tool.mkdir(parents=True)
    work = home / "proj"
    work.mkdir()
    (work / ".git").mkdir()
    plan = plan_mounts(work, writable=True, homes=[home], runtime=[tool, Path("/usr/bin")])
    assert home.resolve() in plan.hidden and Path("/tmp") in plan.hidden and Path("/run") in plan.hidden
    assert plan.exposed == (tool.resolve(),)  # /usr/bin is visible already (read-only host)
    assert plan.writable == (work.resolve(),)
    assert plan.protected == ((work / ".git").resolve(),)  # .git read-only on top of the worktree
    args = plan.args(1 << 20)
    assert args.index("--tmpfs") < args.index("--ro-bind", 3) < args.index("--bind")
    uncovering = plan_mounts(work, writable=True, homes=[home], runtime=[home, tool])  # PATH=~:...
    assert uncovering.exposed == (tool.resolve(),)
    asked = plan_mounts(work, writable=True, homes=[home], runtime=[], read_paths=[home / ".ssh"])
    assert asked.exposed == ((home / ".ssh").resolve(),)  # the user's own read_paths are honoured


def test_a_worktree_that_contains_the_home_directory_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    with pytest.raises(MountError, match="contains your home directory"):
        plan_mounts(tmp_path, writable=True, homes=[home], runtime=[])
    with pytest.raises(MountError, match="is /"):
        plan_mounts(Path("/"), writable=True, homes=[home], runtime=[])


def test_git_paths_follow_a_worktree_to_its_common_dir(tmp_path: Path) -> None:
    repo = median_repo(tmp_path / "r")
    wt = repo / ".git" / ".agent" / "worktrees" / "w"
    git(repo, "worktree", "add", "-q", "-b", "x", str(wt))
    assert git_paths(wt) == [
        wt / ".git",
        (repo / ".git" / "worktrees" / "w").resolve(),
        (repo / ".git").resolve(),
    ]
    assert git_paths(repo) == [repo / ".git"]
    plan = plan_mounts(wt, writable=True, homes=[], runtime=[repo / ".venv-missing"])
    assert plan.sealed == (repo.resolve(),)  # the user's checkout: an empty read-only directory
    assert plan.protected == ((wt / ".git").resolve(),) and (repo / ".git").resolve() in plan.exposed
    assert plan_mounts(repo, writable=True, homes=[], runtime=[]).sealed == ()  # agent tool in a checkout


def test_venv_paths_include_the_base_interpreter(tmp_path: Path) -> None:
    (tmp_path / "pyvenv.cfg").write_text("home = /opt/py/3.11/bin\ninclude-system-site-packages = false\n")
    assert venv_paths(tmp_path) == [tmp_path, Path("/opt/py/3.11")]


def test_missing_bubblewrap_is_refused_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(SandboxUnavailable) as caught:
        probe_bwrap(str(tmp_path / "no-bwrap"))
    message = str(caught.value)
    assert "apt-get install bubblewrap" in message and "--sandbox none" in message


def test_disabled_user_namespaces_are_diagnosed_with_the_fix(tmp_path: Path) -> None:
    (tmp_path / "kernel").mkdir()
    (tmp_path / "kernel" / "unprivileged_userns_clone").write_text("0\n")
    assert "sysctl -w kernel.unprivileged_userns_clone=1" in diagnose("bwrap: No permissions", tmp_path)
    (tmp_path / "kernel" / "unprivileged_userns_clone").write_text("1\n")
    (tmp_path / "user").mkdir()
    (tmp_path / "user" / "max_user_namespaces").write_text("0\n")
    assert "user.max_user_namespaces" in diagnose("", tmp_path)
    (tmp_path / "user" / "max_user_namespaces").write_text("100\n")
    assert "setting up uid map: Permission denied" in diagnose(
        "setting up uid map: Permission denied", tmp_path
    )


def test_a_bwrap_that_cannot_make_namespaces_is_refused(tmp_path: Path) -> None:
    """A real executable standing where bwrap would be, failing the way bwrap does without userns."""
    fake = tmp_path / "bwrap"
    fake.write_text(
        "#!/bin/sh\n"
        '[ "$1" = --help ] && exit 0\n'
        "echo 'bwrap: No permissions to create new namespace' >&2\n"
        "exit 1\n"
    )
    fake.chmod(0o755)
    with pytest.raises(SandboxUnavailable, match="No permissions to create new namespace"):
        probe_bwrap(str(fake), proc_sys=tmp_path)


def test_modes_say_exactly_what_is_active(bwrap: BwrapInfo) -> None:
    assert BubblewrapSandbox(bwrap=bwrap).mode == "bubblewrap (workspace, network off)"
    assert BubblewrapSandbox("read-only", bwrap=bwrap).mode == "bubblewrap (read-only, network off)"
    on = "bubblewrap (network, network on: the host's, loopback included)"
    assert BubblewrapSandbox("network", bwrap=bwrap).mode == on
    none = command_sandbox(AgentConfig(sandbox=SandboxConfig(backend="none")), None, None)
    assert none.mode == NO_ISOLATION_MODE


def test_the_none_backend_still_has_timeouts_limits_and_env_scrub(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_secret")
    config = AgentConfig(sandbox=SandboxConfig(backend="none", limits={"file_size_bytes": 1 << 20}))
    sandbox = command_sandbox(config, None, None)
    assert "ghp_secret" not in sandbox.run("env", tmp_path, 10).output
    assert sandbox.run("sleep 5", tmp_path, 0.5).timed_out
    assert "file_size" in sandbox.run("head -c 5000000 /dev/zero > f", tmp_path, 10).limits_hit


def test_approval_layer_asks_per_command_and_remembers_approve_always(
    tmp_path: Path, bwrap: BwrapInfo
) -> None:
    asked: list[ApprovalRequest] = []
    answers = iter(["deny", "approve_always", "approve"])

    def approver(request: ApprovalRequest):
        asked.append(request)
        return next(answers)

    config = AgentConfig(sandbox=SandboxConfig(approval="always"))
    sandbox = command_sandbox(config, None, approver, "asked in the TUI", bwrap)
    assert isinstance(sandbox, ApprovalSandbox) and sandbox.mode.endswith(
        "approval always (asked in the TUI)"
    )
    ctx = ToolContext(root=tmp_path, sandbox=sandbox)
    denied = ctx.sandbox_for("shell").run("echo one", tmp_path, 10)
    assert denied.exit_code == 126 and "denied" in denied.output
    assert ctx.sandbox_for("shell").run("echo two", tmp_path, 10).output == "two\n"
    assert ctx.sandbox_for("run_tests").run("echo two", tmp_path, 10).output == "two\n"  # remembered
    assert ctx.sandbox_for("shell").run(["echo", "three"], tmp_path, 10).output == "three\n"
    assert [(r.tool, r.command) for r in asked] == [
        ("shell", "echo one"),
        ("shell", "echo two"),
        ("shell", "echo three"),
    ]
    assert asked[0].cwd == str(tmp_path) and "approval" in asked[0].reason


def test_headless_runs_refuse_every_command_that_needs_approval(tmp_path: Path, bwrap: BwrapInfo) -> None:
    """No approver (headless): never a blocking prompt, never run silently: refused, and said so."""
    config = AgentConfig(sandbox=SandboxConfig(approval="always"))
    sandbox = command_sandbox(config, None, None, bwrap=bwrap)
    assert (
        sandbox.mode
        == "bubblewrap (workspace, network off), approval always: every command refused (headless run)"
    )
    refused = sandbox.run("touch ran.txt", tmp_path, 10)
    assert refused.exit_code == 126 and not (tmp_path / "ran.txt").exists()
    assert "needs a person's approval (approval = always) and the run is headless" in refused.output


def test_setup_prepares_an_environment_with_network_then_tests_run_without(
    tmp_path: Path, bwrap: BwrapInfo
) -> None:
    repo = median_repo(tmp_path / "r")
    env_dir = tmp_path / "r" / ".git" / ".agent" / "env"
    config = AgentConfig(sandbox=SandboxConfig(setup_command="true"))
    setup = setup_sandbox(config, Repo(repo), bwrap)
    assert setup is not None and setup.mode == f"bubblewrap (workspace, {PROXIED})"
    tool = '"$AGENT_ENV/bin/tool"'
    script = f'mkdir -p "$AGENT_ENV/bin" && printf "#!/bin/sh\\necho prepared\\n" > {tool} && chmod +x {tool}'
    made = run_setup(setup, script, repo, 60)
    assert made.ok, made.output
    commands = command_sandbox(config, Repo(repo), None, bwrap=bwrap)
    assert "network off" in commands.mode
    assert commands.run("tool", repo, 10).output == "prepared\n"  # AGENT_ENV/bin is on PATH
    written = commands.run('touch "$AGENT_ENV/bin/other"', repo, 10)
    assert "Read-only file system" in written.output and not (env_dir / "bin" / "other").exists()


def test_config_tables_merge_and_flags_override(tmp_path: Path) -> None:
    user = tmp_path / "xdg" / "local-agent"
    user.mkdir(parents=True)
    (user / "config.toml").write_text('[sandbox]\npolicy = "network"\n[sandbox.limits]\ncpu_seconds = 60\n')
    (tmp_path / ".agent.toml").write_text("[sandbox.limits]\nfile_size_bytes = 4096\n")  # stricter: no trust
    env = {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    config = load_config(tmp_path, {}, env)
    assert config.sandbox.policy == "network" and config.sandbox.limits.cpu_seconds == 60
    assert config.sandbox.limits.file_size_bytes == 4096 and config.untrusted is None
    flagged = load_config(tmp_path, {"sandbox": {"policy": "read-only", "backend": None}}, env)
    assert flagged.sandbox.policy == "read-only" and flagged.sandbox.backend == "bubblewrap"
    (tmp_path / ".agent.toml").write_text('[sandbox]\npolicy = "workspace"\ntypo = 1\n')
    with pytest.raises(ConfigError, match="typo"):
        load_config(tmp_path, {}, env)


def test_an_untrusted_repository_config_does_not_weaken_the_sandbox(tmp_path: Path) -> None:
    """Ignored until `agent trust` (tests/test_trust.py), with a notice naming the key."""
    env = {"XDG_CONFIG_HOME": str(tmp_path / "none")}
    for text, key in (
        ('[sandbox]\nbackend = "none"\n', "sandbox.backend"),
        ('[sandbox]\npolicy = "network"\n', "sandbox.policy"),
        ('[sandbox]\nread_paths = ["~/.ssh"]\n', "sandbox.read_paths"),
        ("[web_fetch]\nenabled = true\n", "web_fetch.enabled"),
    ):
        (tmp_path / ".agent.toml").write_text(text)
        config = load_config(tmp_path, {}, env)
        assert config.untrusted is not None and config.untrusted.keys == [key]
        assert (config.sandbox.backend, config.sandbox.policy) == ("bubblewrap", "workspace")
        assert not config.sandbox.read_paths and not config.web_fetch.enabled
        assert f"ignored {key} from" in (config.untrusted_notice() or "")


def run_agent(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*AGENT, *args], cwd=cwd, capture_output=True, text=True, timeout=120, env={**os.environ, **env}
    )


def test_agent_sandbox_prints_status_limits_and_mode(tmp_path: Path) -> None:
    repo = median_repo(tmp_path / "r")
    result = run_agent(["sandbox", "--", "bash", "-c", "echo hi; ls ~ | wc -l; exit 3"], repo)
    assert result.returncode == 3, result.stderr
    assert result.stdout.splitlines()[:2] == ["hi", "0"]  # the home directory is empty inside
    assert "-- exit status: 3" in result.stdout and "-- limits hit: none" in result.stdout
    assert "-- sandbox: bubblewrap (workspace, network off)" in result.stdout
    slow = run_agent(["sandbox", "--timeout", "0.5", "--policy", "read-only", "--", "sleep 5; echo no"], repo)
    assert "wall-clock timeout" in slow.stdout and "read-only, network off" in slow.stdout
    none = run_agent(["sandbox", "--sandbox", "none", "--", "true"], repo)
    assert none.returncode == 0 and "WARNING" in none.stderr and "NO ISOLATION" in none.stdout


def test_agent_tool_runs_commands_in_the_selected_sandbox(tmp_path: Path) -> None:
    repo = median_repo(tmp_path / "r")
    args = json.dumps({"command": "touch ~/x && ls -A ~ && touch /etc/x"})
    result = run_agent(["tool", "shell", "--args", args, "--json"], repo)
    output = json.loads(result.stdout)["result"]["output"]
    assert "Read-only file system" in output
    ro = run_agent(
        ["tool", "create_file", "--policy", "read-only", "--args", '{"path": "n.txt", "content": "x"}'], repo
    )
    assert ro.returncode == 1 and "read-only" in ro.stdout and not (repo / "n.txt").exists()


def test_the_pids_cgroup_is_found_in_v1_and_v2_layouts(tmp_path: Path) -> None:
    """find_parent reads mountinfo and our cgroup; the hierarchy here is a plain directory tree."""
    from sandbox.cgroup import PidsGroup, find_parent

    proc = tmp_path / "proc"
    proc.mkdir()
    v1 = tmp_path / "v1"
    (v1 / "agents").mkdir(parents=True)
    (proc / "mountinfo").write_text(
        f"31 23 0:28 / {tmp_path}/fs rw - tmpfs tmpfs rw\n"
        f"39 31 0:36 / {v1} rw,relatime - cgroup cgroup rw,pids\n"
    )
    (proc / "cgroup").write_text("9:name=systemd:/\n8:pids:/agents\n0::/\n")
    assert find_parent(proc) == v1 / "agents"
    v2 = tmp_path / "v2"
    (v2 / "user.slice").mkdir(parents=True)
    (v2 / "user.slice" / "cgroup.controllers").write_text("cpu memory pids\n")
    (proc / "mountinfo").write_text(f"40 31 0:37 / {v2} rw - cgroup2 cgroup2 rw\n")
    (proc / "cgroup").write_text("0::/user.slice\n")
    assert find_parent(proc) == v2 / "user.slice"
    (v2 / "user.slice" / "cgroup.controllers").write_text("cpu memory\n")
    assert find_parent(proc) is None  # no pids controller: RLIMIT_NPROC is the fallback
    group = PidsGroup.create(v1 / "agents", 32)
    assert (group.path / "pids.max").read_text() == "32" and not group.limit_hit()
    (group.path / "pids.max").unlink()
    group.remove()
    assert not group.path.exists()


def test_version_manager_shims_on_path_work_inside(tmp_path: Path, bwrap: BwrapInfo) -> None:
    """A pyenv-style shim runs `<root>/libexec/<tool>`: the tree is shown read-only, the rest of
    the home directory stays hidden."""
    home = tmp_path / "home"
    root = home / ".fakeenv"
    (root / "libexec").mkdir(parents=True)
    (root / "shims").mkdir()
    (root / "libexec" / "fakeenv").write_text("#!/bin/sh\necho shim-ok\n")
    (root / "shims" / "mytool").write_text(f'#!/bin/sh\nexec "{root}/libexec/fakeenv" exec mytool "$@"\n')
    for script in (root / "libexec" / "fakeenv", root / "shims" / "mytool"):
        script.chmod(0o755)
    (home / ".netrc").write_text("machine example.com password hunter2\n")
    path = f"{root / 'shims'}:/usr/bin:/bin"
    sandbox = BubblewrapSandbox(bwrap=bwrap, env={"HOME": str(home), "PATH": path})
    work = median_repo(tmp_path / "work")
    result = sandbox.run(f"mytool; cat {home}/.netrc", work, 10, env={"PATH": path})
    assert result.output.startswith("shim-ok\n") and "hunter2" not in result.output, result.output
