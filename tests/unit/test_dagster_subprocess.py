"""`run_dagster_command` runs real child processes (small `python -c` scripts standing in for the
Dagster-side entry points): with the settings' `DAGSTER_HOME` and `FORECASTOPS_HOME`, importing
only installed packages (never from the current directory), returning any exit code with its
output, and killing a command that outlives its limit; `write_workspace` names the installed
code location as the repo's workspace.yaml does."""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import pytest
import yaml

import forecastops
from forecastops.ops.dagster_bridge import (
    DagsterCommandTimeout,
    run_dagster_command,
    workspace_path,
    write_workspace,
)
from forecastops.stores.settings import Settings


def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path, dagster_home=tmp_path / "dagster-home")


def python(script: str) -> list[str]:
    return [sys.executable, "-c", script]


def test_the_command_gets_the_settings_homes_and_the_installed_packages_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The operator stands in a folder with a `resources` package of its own: the command runs
    there, but imports ForecastOps' `resources`, the one installed beside `forecastops`."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "the-shells-home"))
    monkeypatch.setenv("FORECASTOPS_PROBE", "inherited")
    where_the_operator_is = tmp_path / "project"
    (where_the_operator_is / "resources").mkdir(parents=True)
    (where_the_operator_is / "resources" / "__init__.py").write_text("")
    monkeypatch.chdir(where_the_operator_is)
    script = (
        "import importlib.util, os; print(os.environ['DAGSTER_HOME']); "
        "print(os.environ['FORECASTOPS_HOME']); print(os.getcwd()); "
        "print(os.environ['FORECASTOPS_PROBE']); "
        "print(importlib.util.find_spec('resources').origin)"
    )
    result = run_dagster_command(python(script), settings(tmp_path), timeout_s=60)
    assert result.returncode == 0, result.stderr
    installed_beside_forecastops = Path(forecastops.__file__).parent.parent
    assert result.stdout.splitlines() == [
        str((tmp_path / "dagster-home").resolve()),
        str(tmp_path.resolve()),
        str(where_the_operator_is),
        "inherited",
        str(installed_beside_forecastops / "resources" / "__init__.py"),
    ]


def test_the_written_workspace_loads_the_repos_code_location(tmp_path: Path) -> None:
    """Same module and location name as the repo's workspace.yaml (`dagster dev`), so schedules,
    sensors and backfills keep one code location whichever of the two a process loads."""
    repo_workspace = Path(forecastops.__file__).parents[1] / "workspace.yaml"
    home = tmp_path / "not-yet-created"
    written = write_workspace(Settings(home=home))
    assert written == workspace_path(Settings(home=home)) == home.resolve() / "workspace.yaml"
    assert yaml.safe_load(written.read_text()) == yaml.safe_load(repo_workspace.read_text())
    assert write_workspace(Settings(home=home)) == written  # idempotent
    assert sorted(path.name for path in home.iterdir()) == ["workspace.yaml"]


def test_a_failing_command_is_a_result_with_its_exit_code_and_both_outputs(
    tmp_path: Path,
) -> None:
    script = "import sys; print('to stdout'); print('to stderr', file=sys.stderr); sys.exit(3)"
    result = run_dagster_command(python(script), settings(tmp_path), timeout_s=60)
    assert result.returncode == 3
    assert (result.stdout, result.stderr) == ("to stdout\n", "to stderr\n")
    assert result.output == "to stdout\n\nto stderr"
    assert result.command == tuple(python(script))


def test_the_output_tail_is_the_end_of_stdout_then_stderr(tmp_path: Path) -> None:
    script = "import sys; print('x' * 5000); print('the last line', file=sys.stderr, end='')"
    result = run_dagster_command(python(script), settings(tmp_path), timeout_s=60)
    assert result.output_tail(20) == "xxxxx\n\nthe last line"
    assert result.output_tail(100_000) == result.output
    assert result.output_tail(0) == ""


def test_a_silent_command_has_an_empty_output(tmp_path: Path) -> None:
    result = run_dagster_command(python("pass"), settings(tmp_path), timeout_s=60)
    assert (result.returncode, result.output, result.output_tail(100)) == (0, "", "")


def test_seconds_is_the_time_the_command_took(tmp_path: Path) -> None:
    result = run_dagster_command(
        python("import time; time.sleep(0.5)"), settings(tmp_path), timeout_s=60
    )
    assert result.seconds >= 0.5


def _processes_naming(token: str) -> list[int]:
    """The live processes whose command line carries `token`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if token.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:  # it ended meanwhile
                pass
    return found


def test_a_command_past_its_limit_is_killed_and_raises_naming_it_and_the_limit(
    tmp_path: Path,
) -> None:
    """Whether or not the child got as far as its first line in the 2 s (a busy machine may
    not start Python that fast), it must be gone once the call returns: none is left whose
    command line carries the script's token, and a PID it recorded names no process."""
    token = f"forecastops-test-{uuid.uuid4().hex}"
    pid_file = tmp_path / "pid"
    script = (
        f"import os, pathlib, time; pathlib.Path({str(pid_file)!r}).write_text(str(os.getpid())); "
        f"time.sleep(120)  # {token}"
    )
    with pytest.raises(DagsterCommandTimeout) as caught:
        run_dagster_command(python(script), settings(tmp_path), timeout_s=2)
    assert caught.value.command == tuple(python(script))
    assert caught.value.timeout_s == 2
    assert "did not finish within 2 s" in str(caught.value)
    assert "time.sleep(120)" in str(caught.value)
    assert _processes_naming(token) == []  # killed, not left running
    if pid_file.exists():  # and reaped: not even a zombie keeps its PID
        with pytest.raises(ProcessLookupError):
            os.kill(int(pid_file.read_text()), 0)
