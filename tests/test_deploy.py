"""The systemd unit and the container file run `xiaoshen serve` with restart on failure; every
command they name exists in the project or on this machine, and the ones that can run here
do (no container engine is needed)."""

from __future__ import annotations

import configparser
import inspect
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path, PurePosixPath

import pytest
from dockerfile_parse import DockerfileParser

from tests.conftest import ROOT, free_port
from xiaoshen import settings
from xiaoshen.cli import cli
from xiaoshen.supervisor import STOP_ORDER, stop_group

DEPLOY = ROOT / "deploy"
INSTALLED = PurePosixPath("/opt/xiaoshen")  # where both expect the set-up checkout
SHELL_OPERATORS = {"&&", "||", ";", "|"}


def in_project(path: str) -> Path:
    """A path of the installed checkout, or relative to it, as a path of this checkout."""
    pure = PurePosixPath(path)
    return ROOT / (pure.relative_to(INSTALLED) if pure.is_absolute() else pure)


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # systemd's keys are case-sensitive
    parser.read(DEPLOY / "xiaoshen.service", encoding="utf-8")
    return parser


def container() -> DockerfileParser:
    return DockerfileParser(fileobj=io.BytesIO((DEPLOY / "Containerfile").read_bytes()))


def instructions(name: str) -> list[str]:
    return [i["value"] for i in container().structure if i["instruction"] == name]


def commands(shell: str) -> list[list[str]]:
    """The commands of a shell line, split into words (`a x && b | c; d` → [a, x], [b], …)."""
    lexer = shlex.shlex(shell, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    found: list[list[str]] = [[]]
    for token in lexer:
        if token in SHELL_OPERATORS:
            found.append([])
        else:
            found[-1].append(token)
    return [command for command in found if command]


def this_machine(program: str) -> str | None:
    """Where `program` is here; the Pythons are the ones scripts/setup.sh found."""
    pythons = {"python3.11": sys.executable, "python3.10": settings.load({}).rasa_python}
    return pythons.get(program) or shutil.which(program)


def setup_pythons() -> list[str]:
    """The Python versions scripts/setup.sh builds its environments with."""
    return re.findall(r"find_python (3\.\d+)\)", (ROOT / "scripts" / "setup.sh").read_text())


def test_the_unit_runs_serve_as_its_own_user_and_restarts_on_failure() -> None:
    service = unit()["Service"]
    program, *arguments = shlex.split(service["ExecStart"])
    assert arguments == ["serve"] and "serve" in cli.commands
    assert os.access(in_project(program), os.X_OK)
    assert service["Restart"] == "on-failure"
    assert service["User"] not in ("", "root") and service["Group"] == service["User"]
    assert PurePosixPath(service["WorkingDirectory"]) == INSTALLED
    # Read-only but for var/, which holds the database and everything beside it.
    assert service["ProtectSystem"] == "strict"
    assert in_project(service["ReadWritePaths"]) == settings.load({}).db.parent
    # serve alone gets SIGTERM and drains the services one after another.
    drain = inspect.signature(stop_group).parameters["grace"].default * len(STOP_ORDER)
    assert service["KillMode"] == "mixed" and int(service["TimeoutStopSec"]) > drain
    assert unit()["Install"]["WantedBy"] == "multi-user.target"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze is not installed on this machine")
def test_systemd_analyze_verifies_the_unit(tmp_path: Path) -> None:
    here = (DEPLOY / "xiaoshen.service").read_text("utf-8").replace(str(INSTALLED), str(ROOT))
    (tmp_path / "xiaoshen.service").write_text(here, "utf-8")
    result = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "xiaoshen.service")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "xiaoshen.service" not in result.stderr  # no warning about our unit


def test_the_container_builds_on_debian_with_both_pythons_of_the_set_up() -> None:
    images = [value.split()[0] for value in instructions("FROM")]
    assert all(re.search(r"-(bookworm|trixie)$", image) for image in images)
    assert setup_pythons() == ["3.11", "3.10"]
    for version in setup_pythons():
        assert any(f"/python:{version}-" in image for image in images)
    stages = {value.split()[-1] for value in instructions("FROM") if " AS " in value}
    assert all(value.split()[0].removeprefix("--from=") in stages
               for value in instructions("COPY") if value.startswith("--from="))


def test_every_command_the_container_file_runs_exists() -> None:
    runs = [command for run in instructions("RUN") for command in commands(run)]
    assert ["scripts/setup.sh"] in runs  # it sets up as ./run.sh does
    for program, *arguments in runs:
        if "/" in program:  # the project's own
            assert os.access(in_project(program), os.X_OK), program
            assert subprocess.run(["bash", "-n", str(in_project(program))]).returncode == 0
        else:
            assert this_machine(program), program
        if program.startswith("python3."):  # an interpreter check: this machine's passes
            assert subprocess.run([this_machine(program), *arguments]).returncode == 0


def test_the_container_serves_the_gateway_alone_on_every_interface() -> None:
    parsed = container()
    command = json.loads(parsed.cmd)
    assert command == [".venv/bin/xiaoshen", "serve"]
    assert os.access(ROOT / command[0], os.X_OK)
    assert subprocess.run([*command, "--help"], cwd=ROOT, capture_output=True).returncode == 0
    config = settings.load(parsed.envs)  # every variable a known, valid setting
    assert {name: config.bind_host(name) for name in STOP_ORDER} == {
        "gateway": "0.0.0.0", "rasa": "127.0.0.1", "actions": "127.0.0.1"}
    assert instructions("EXPOSE") == [str(config.gateway_port)]
    workdir = PurePosixPath(instructions("WORKDIR")[-1])
    assert workdir == INSTALLED
    assert json.loads(instructions("VOLUME")[0]) == [str(workdir / "var")]
    assert in_project(str(workdir / "var")) == config.db.parent


def test_nothing_of_this_machine_goes_into_the_image() -> None:
    ignored = (DEPLOY / "Containerfile.dockerignore").read_text("utf-8").split()
    for pattern in (ROOT / ".gitignore").read_text("utf-8").split():
        assert pattern in ignored or f"**/{pattern}" in ignored, pattern
    assert ".git/" in ignored


@pytest.mark.stack
def test_the_health_check_asks_the_gateway(stack, stack_env) -> None:
    options, _, command = instructions("HEALTHCHECK")[0].partition("CMD ")
    assert "--start-period=" in options  # Rasa's model load is not a failure
    command = json.loads(command)
    env = {**os.environ, **stack_env}
    assert os.access(ROOT / command[0], os.X_OK)
    assert subprocess.run(command, cwd=ROOT, env=env).returncode == 0
    # Rasa and the action server are still up: only the gateway's answer counts.
    elsewhere = {**env, "XIAOSHEN_GATEWAY_PORT": str(free_port())}
    assert subprocess.run(command, cwd=ROOT, env=elsewhere).returncode == 1
