"""`seqlab run product`: the quick preset end to end, and the truth table on a known network."""

import json

import pytest
import torch

from seqlab.experiments import product


@pytest.fixture
def quick_run(quick_runs):
    return quick_runs("product")


def test_quick_run_solves_the_product_with_two_units(quick_run):
    s = json.loads((quick_run / "summary.json").read_text())["details"]
    assert s["solved"] >= 2 and s["seeds"] == 3
    for r in s["results"]:
        w = r["weights"]
        assert len(w["W"]) == 2 and len(w["U"]) == 2 and len(w["V"][0]) == 2
        if r["solved"]:
            assert r["exhaustive_accuracy"] == 1.0 and r["valid_accuracy"] == 1.0
        # The reported weights are the network's: rebuilt from them, it scores the same.
        model = product.build(2)
        with torch.no_grad():
            model.rnn.weight_ih_l0.copy_(torch.tensor(w["W"]))
            model.rnn.weight_hh_l0.copy_(torch.tensor(w["U"]))
            model.rnn.bias_ih_l0.copy_(torch.tensor(w["b_x"]))
            model.rnn.bias_hh_l0.zero_()
            model.readout.weight.copy_(torch.tensor(w["V"]))
            model.readout.bias.copy_(torch.tensor(w["b_y"]))
        table = product.truth_table(model, 8)
        assert table["accuracy"] == pytest.approx(r["exhaustive_accuracy"], abs=0.01)
    # The lecture's weights run as printed: each orientation's accuracy is what the table says.
    for name, transpose in (("U z", False), ("Uᵀ z", True)):
        table = product.truth_table(product.lecture_model(transpose), 8)
        assert s["lecture"][name]["accuracy"] == table["accuracy"]
    report = (quick_run / "report.md").read_text()
    assert "| seed | solved |" in report and "![lecture](figures/lecture.png)" in report
    for name in ("trajectory.png", "lecture.png"):
        assert (quick_run / "figures" / name).stat().st_size > 10_000


def exact_product_network(scale: float = 20.0):
    """z_1 = [x_t], z_2 = [x_{t-1}] (z_2 copies z_1 a step late), o = [z_1 and z_2]."""
    model = product.build(2)
    with torch.no_grad():
        model.rnn.weight_ih_l0.copy_(torch.tensor([[scale], [0.0]]))
        model.rnn.weight_hh_l0.copy_(torch.tensor([[0.0, 0.0], [scale, 0.0]]))
        model.rnn.bias_ih_l0.copy_(torch.tensor([-scale / 2, -scale / 2]))
        model.rnn.bias_hh_l0.zero_()
        model.readout.weight.copy_(torch.tensor([[scale, scale]]))
        model.readout.bias.fill_(-1.5 * scale)
    return model


def test_truth_table_of_a_hand_built_product_network():
    table = product.truth_table(exact_product_network(), 8)
    assert table["accuracy"] == 1.0
    assert table["outputs_one"] == {"00": 0.0, "01": 0.0, "10": 0.0, "11": 1.0}
    assert table["closest_function"].startswith("x_{t-1} AND x_t")


def test_truth_table_names_what_another_network_computes():
    model = exact_product_network()
    with torch.no_grad():
        model.readout.weight.copy_(torch.tensor([[20.0, 0.0]]))  # o = [z_1] = x_t
        model.readout.bias.fill_(-10.0)
    table = product.truth_table(model, 6)
    assert table["closest_function"] == "x_t" and table["agreement"] == 1.0
    assert table["accuracy"] < 1.0


def test_lecture_weights_are_loaded_as_printed():
    model = product.lecture_model()
    U = torch.tensor(product.LECTURE["U"])
    torch.testing.assert_close(model.rnn.weight_hh_l0.detach(), U)
    torch.testing.assert_close(product.lecture_model(transpose=True).rnn.weight_hh_l0.T, U)
    assert product.weights(model)["b_x"] == pytest.approx(product.LECTURE["b_x"])


def test_bad_settings_name_the_key():
    from seqlab.errors import ConfigError

    expected = r"exhaustive_length=20: expected an integer in \[2, 16\]"
    with pytest.raises(ConfigError, match=expected):
        product.ProductConfig(exhaustive_length=20)
    with pytest.raises(ConfigError, match="length=1: expected an integer >= 2"):
        product.ProductConfig(length=1)
