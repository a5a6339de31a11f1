"""The LSTM's forget gates and cell-path products against their definitions."""

import torch

import seqlab
from seqlab.analysis.cell_path import cell_path_product, forget_gates

F64 = torch.float64


def test_forget_gates_match_the_equations_step_by_step():
    lstm = seqlab.LSTM(3, 5, batch_first=True, dtype=F64)
    x = torch.randn(2, 7, 3, dtype=F64)
    f = forget_gates(lstm, x)
    w_ih, w_hh = lstm.weight_ih_l0, lstm.weight_hh_l0
    b = lstm.bias_ih_l0 + lstm.bias_hh_l0
    h = c = torch.zeros(2, 5, dtype=F64)
    with torch.no_grad():
        for t in range(7):
            i_, f_, g_, o_ = (x[:, t] @ w_ih.T + h @ w_hh.T + b).chunk(4, -1)
            torch.testing.assert_close(f[:, t], torch.sigmoid(f_))
            c = torch.sigmoid(f_) * c + torch.sigmoid(i_) * torch.tanh(g_)
            h = torch.sigmoid(o_) * torch.tanh(c)


def test_cell_path_product_of_constant_gates_is_a_power():
    f = torch.full((1, 6, 2), 0.5, dtype=F64)
    expected = torch.tensor([0.5**5, 0.5**4, 0.5**3, 0.5**2, 0.5, 1.0], dtype=F64)
    torch.testing.assert_close(cell_path_product(f)[0, :, 1], expected)


def test_the_cell_gradient_along_the_cell_path_is_the_product_of_forget_gates():
    # With i = 0 (input gate shut) and o = 0 (h = 0, so no path through h), c_T = ∏ f · c_0
    # and ∂c_T/∂c_t = ∏_{s>t} f_s: what the recorder sees as ‖∂E/∂c_t‖ for E = Σ c_T.
    lstm = seqlab.LSTM(1, 1, batch_first=True, dtype=F64, backend="seqlab")
    with torch.no_grad():
        lstm.weight_hh_l0.zero_()
        lstm.weight_ih_l0.copy_(torch.tensor([[0.0], [2.0], [0.0], [0.0]]))
        lstm.bias_ih_l0.copy_(torch.tensor([-50.0, 0.5, 0.0, -50.0]))
        lstm.bias_hh_l0.zero_()
    x = torch.rand(1, 6, 1, dtype=F64)
    c0 = torch.ones(1, 1, 1, dtype=F64)
    with seqlab.analysis.record_gradient_flow() as flow:
        _, (_, cT) = lstm(x, (torch.zeros_like(c0), c0))
        cT.sum().backward()
    products = cell_path_product(forget_gates(lstm, x))[0, :, 0]
    torch.testing.assert_close(flow.norms("cell"), products, rtol=1e-9, atol=1e-12)
