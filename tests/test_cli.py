"""The athena command line: its commands and options, the not-built contract, AthenaError as one line."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

import athena
from athena import cli
from athena.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = ("record", "backtest", "live", "scenarios", "data", "sim-server")


@pytest.fixture
def runner() -> Iterator[CliRunner]:
    yield CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"})
    # the global callback installs our log handler; leave the root logger as we found it
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.get_name() == "athena"]:
        root.removeHandler(handler)


def first_words(help_text: str) -> list[str]:
    """The first word of each help line, box-drawing borders aside: the listed commands among them."""
    words = [line.replace("│", " ").split()[:1] for line in help_text.splitlines()]
    return [w[0] for w in words if w]


def test_help_lists_the_six_commands(runner: CliRunner):
    result = runner.invoke(cli.app, ["--help"])
    assert result.exit_code == 0
    listed = first_words(result.stdout)
    assert sorted(name for name in listed if name in COMMANDS) == sorted(COMMANDS)


@pytest.mark.parametrize(
    ("args", "options"),
    [
        (["backtest"], ["--from", "--to", "--inst", "--strategy", "--config", "--data", "--seed", "--out"]),
        (["record"], ["--inst", "--channels", "--data", "--endpoint"]),
        (["live"], ["--strategy", "--config", "--endpoint", "--flatten"]),
        (["sim-server"], ["--data", "--from", "--to", "--speed", "--port", "--faults", "--book-checksum"]),
        (["data", "import"], ["--data"]),
        (["data", "ls"], ["--data"]),
        (["data", "verify"], ["--data"]),
    ],
)
def test_each_command_documents_its_options(runner: CliRunner, args: list[str], options: list[str]):
    result = runner.invoke(cli.app, [*args, "--help"])
    assert result.exit_code == 0
    missing = [opt for opt in options if f" {opt} " not in result.stdout]
    assert missing == []


def test_data_has_import_ls_verify(runner: CliRunner):
    result = runner.invoke(cli.app, ["data", "--help"])
    assert [n for n in first_words(result.stdout) if n in ("import", "ls", "verify")] == ["import", "ls", "verify"]


def test_bad_iso_time_is_a_usage_error(runner: CliRunner):
    result = runner.invoke(cli.app, ["backtest", "--from", "yesterday"])
    assert result.exit_code == 2
    assert "'yesterday' is not an ISO 8601 date or time" in result.stderr


def test_athena_error_in_a_command_prints_one_line_and_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    def failing(data_root: Path) -> None:
        raise ConfigError("config/local.json: capital.total_usdt = 'lots' — expected a number")

    monkeypatch.setattr("athena.app.data.verify", failing)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["data", "verify", "--data", "."])
    captured = capsys.readouterr()
    assert exit_info.value.code == 1
    assert captured.err == "athena: config/local.json: capital.total_usdt = 'lots' — expected a number\n"
    assert "Traceback" not in captured.out + captured.err


def test_exit_code_comes_from_the_error(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    class Exit3(ConfigError):
        exit_code = 3

    def failing(data_root: Path) -> None:
        raise Exit3("two\nlines")

    monkeypatch.setattr("athena.app.data.verify", failing)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["data", "verify", "--data", "."])
    assert (exit_info.value.code, capsys.readouterr().err) == (3, "athena: two lines\n")


def test_python_dash_m_athena_runs_the_cli():
    result = subprocess.run(
        [sys.executable, "-m", "athena", "--version"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert (result.returncode, result.stdout) == (0, f"athena {athena.__version__}\n")


def test_scenarios_command_runs_every_scenario_and_reports_each_invariant(runner: CliRunner):
    result = runner.invoke(cli.app, ["scenarios", "--dir", str(ROOT / "scenarios"), "ghost_order"])
    assert result.exit_code == 0, result.output
    assert "PASS ghost_order" in result.stdout
    assert "ghosts_orders_canceled" in result.stdout or "ghost_orders_canceled" in result.stdout
    assert "1 passed, 0 failed" in result.stdout


def test_scenarios_command_with_an_unknown_name_is_one_line(runner: CliRunner):
    result = runner.invoke(cli.app, ["scenarios", "--dir", str(ROOT / "scenarios"), "nope"])
    assert result.exit_code == 1
    assert "nope" in str(result.exception)


def test_data_ls_and_verify_on_the_sample(runner: CliRunner):
    ls = runner.invoke(cli.app, ["data", "ls", "--data", str(ROOT / "data" / "sample")])
    assert ls.exit_code == 0, ls.output
    assert "books" in ls.stdout and "BTC-USDT-SWAP" in ls.stdout and "1,005,926" in ls.stdout
    ok = runner.invoke(cli.app, ["data", "verify", "--data", str(ROOT / "data" / "sample")])
    assert ok.exit_code == 0, ok.output
    assert ok.stdout.startswith("OK")


def test_data_import_of_a_missing_file_is_one_line(runner: CliRunner, tmp_path: Path):
    res = runner.invoke(cli.app, ["data", "import", "tardis", str(tmp_path / "nope.csv.gz"), "--data", str(tmp_path)])
    assert res.exit_code == 1
    assert "no such file" in str(res.exception)
