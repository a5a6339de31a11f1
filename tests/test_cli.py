"""The `seqlab` command as a person runs it (the experiments' own runs: tests/experiments)."""

import subprocess
import sys

import pytest

from seqlab import cli


def test_console_script_reports_its_version():
    result = subprocess.run(
        [sys.executable, "-m", "seqlab.cli", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.startswith("seqlab ")


def test_help_config_lists_the_keys_with_the_presets_values(capsys):
    assert cli.main(["run", "charlm", "--preset", "lecture", "--help-config"]) == 0
    out = capsys.readouterr().out
    assert "  model.num_layers = 3" in out and "  train.lr = " in out and "  data.path = ''" in out


def test_a_missing_command_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main([])
    assert exit_.value.code == 2
