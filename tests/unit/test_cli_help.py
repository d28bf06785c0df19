"""The CLI's help and version: every option and argument explained, flags shown without a
type, enum choices listed, the version from the package metadata, completion available."""

from __future__ import annotations

from typing import Any

import typer.main
from typer.testing import CliRunner

from domainbatch import __version__
from domainbatch.cli.main import app

runner = CliRunner()


def commands(group: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            found += commands(command, (*path, name))
        else:
            found.append((*path, name))
    return found


def test_every_option_and_argument_has_help_and_no_flag_shows_a_type() -> None:
    root: Any = typer.main.get_command(app)
    every = commands(root)
    assert ("keys", "revoke") in every and ("db", "check") in every and len(every) >= 12
    for path in every:
        command = root
        for name in path:
            command = command.commands[name]
        for param in command.params:
            where = f"{' '.join(path)} {param.name}"
            assert getattr(param, "help", None), f"{where} has no help"
            # A value is named for what it is (URL, FILE, N), not by its Python type.
            takes_value = param.param_type_name == "option" and not param.is_flag
            if takes_value and not param.type_descriptor.is_choice:
                assert param.metavar, f"{where} has no metavar"
        shown = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
        assert shown.exit_code == 0, shown.output
        assert "<bool>" not in shown.output, shown.output


def test_version_and_completion() -> None:
    done = runner.invoke(app, ["--version"])
    assert done.exit_code == 0 and done.output.strip() == f"domainbatch {__version__}"
    shown = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert "--install-completion" in shown.output and "--show-completion" in shown.output
    listed = runner.invoke(app, ["list", "--help"], env={"COLUMNS": "200"})
    assert "pending|processing|completed|failed|cancelled" in listed.output
