"""benchmarks/recurrent.py --quick: the smoke run works and its tables hold every column."""

import importlib.util
import json
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "recurrent.py"


def test_quick_lstm_run_has_every_column_and_case(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("bench_recurrent", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out, md = tmp_path / "r.json", tmp_path / "r.md"
    bench.main(
        ["--quick", "--families", "LSTM", "--budget", "0.01", "--out", str(out)]
        + ["--markdown", str(md)]
    )
    results = json.loads(out.read_text())
    train = [r for r in results["results"] if r["mode"] == "train"]
    assert {r["case"] for r in train} == {"weighted", "sum", "no-dx"}
    for r in results["results"]:
        assert set(r["ratio_to_torch_nn"]) == {"seqlab", "compiled", "auto", "loop"}
    assert {v["variant"] for v in results["variants"]} == {
        "peephole='full'",
        "peephole='diagonal'",
        "layer_norm=True",
    }
    summary = md.read_text()
    assert "Compiled tier's time / the Python tier's" in summary
    assert "WARNING" not in capsys.readouterr().out  # every column computes the same thing
