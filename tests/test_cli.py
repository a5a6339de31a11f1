"""The `seqlab` command as a person runs it."""

import subprocess
import sys

import pytest

from seqlab import cli


def test_demo_trains_every_family_and_draws_the_gradient_flow(capsys):
    assert cli.main(["demo", "--steps", "30", "--delay", "3", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    for family in ("rnn", "gru", "lstm"):
        assert f"  {family}" in out
    assert "test MSE" in out and "Gradient flow" in out
    assert out.count("t=0 ") == 3


def test_bad_arguments_exit_with_a_message(capsys):
    assert cli.main(["demo", "--delay", "0"]) == 2
    assert "--delay and --steps must be at least 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["demo", "--families", "transformer"])


def test_console_script_reports_its_version():
    result = subprocess.run(
        [sys.executable, "-m", "seqlab.cli", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.startswith("seqlab ")
