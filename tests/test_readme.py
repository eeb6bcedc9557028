"""The README documents every CLI command and every setting (sqlite-utils' habit)."""

from pathlib import Path

import click
import pytest

from xiaoshen import settings
from xiaoshen.cli import cli

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def command_paths(group: click.Group, prefix: str = "xiaoshen") -> list[str]:
    paths = []
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        paths += command_paths(command, path) if isinstance(command, click.Group) else [path]
    return paths


@pytest.mark.parametrize("command", command_paths(cli))
def test_every_command_is_documented(command: str) -> None:
    assert f"$ {command}" in README


@pytest.mark.parametrize("setting", settings.SETTINGS, ids=lambda s: s.env)
def test_every_setting_is_documented(setting: settings.Setting) -> None:
    assert f"`{setting.env}`" in README


@pytest.mark.parametrize("setting", [s for s in settings.SETTINGS
                                     if not s.default.startswith(str(settings.ROOT))],
                         ids=lambda s: s.env)
def test_documented_defaults_are_the_real_ones(setting: settings.Setting) -> None:
    default = f"`{setting.default}`" if setting.default else "(empty)"
    assert f"| `{setting.env}` | {default} |" in README


def test_readme_commands_exist() -> None:
    root = Path(__file__).resolve().parents[1]
    assert "./run.sh" in README and (root / "run.sh").is_file()
    assert "./test.sh" in README and (root / "test.sh").is_file()
    assert "./test.sh" in (root / ".ci" / "run").read_text()
