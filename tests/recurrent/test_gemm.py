"""The kernels' matrix products equal plain ``mm`` on both of their paths."""

import pytest
import torch

import seqlab
from seqlab.recurrent import gemm


@pytest.mark.parametrize("M,K,N", [(3, 4, 5), (64, 256, 1024)])  # mm path, oneDNN path
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_products_equal_mm(M, K, N, dtype):
    a, w = torch.randn(M, K, dtype=dtype), torch.randn(N, K, dtype=dtype)
    tol = {"atol": 1e-4, "rtol": 1e-5} if dtype == torch.float32 else {"atol": 1e-12, "rtol": 0}
    torch.testing.assert_close(gemm.linear(a, w), a @ w.T, **tol)
    out = torch.randn(M, N, dtype=dtype)
    expected = out + a @ w.T
    assert gemm.add_linear_(out, a, w) is out
    torch.testing.assert_close(out, expected, **tol)
    bias = torch.randn(M, N, dtype=dtype)
    torch.testing.assert_close(gemm.addmm(bias, a, w), bias + a @ w.T, **tol)
    r = torch.randn(M, N, dtype=dtype)
    torch.testing.assert_close(gemm.t_matmul(a, r), a.T @ r, **tol)
    # The per-step binders take the same paths, chosen once.
    torch.testing.assert_close(gemm.bind_linear(a, w)(a), a @ w.T, **tol)
    torch.testing.assert_close(gemm.bind_addmm(a, w)(bias, a), bias + a @ w.T, **tol)
    out = torch.randn(M, N, dtype=dtype)
    expected = out + a @ w.T
    torch.testing.assert_close(gemm.bind_add_linear_(a, w)(out, a), expected, **tol)


def test_large_float32_modules_take_the_onednn_path_and_match_torch():
    if not gemm.ONEDNN_AVAILABLE:
        pytest.skip("this torch build has no oneDNN linear")
    B, H = 16, 256
    assert B * H * 4 * H >= gemm.ONEDNN_MIN_WORK
    ref = torch.nn.LSTM(32, H, batch_first=True)
    ours = seqlab.LSTM(32, H, batch_first=True, backend="seqlab")
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(B, 20, 32, requires_grad=True)
    (a, _), (b, _) = ours(x), ref(x)
    torch.testing.assert_close(a, b, atol=2e-5, rtol=1e-4)
    w = torch.randn_like(a)
    ga = torch.autograd.grad((a * w).sum(), [x, *ours.parameters()])
    gb = torch.autograd.grad((b * w).sum(), [x, *ref.parameters()])
    for g1, g2 in zip(ga, gb, strict=True):
        torch.testing.assert_close(g1, g2, atol=1e-3, rtol=1e-3)


@pytest.fixture
def weight_layouts(monkeypatch):
    """Records, for every product that reaches oneDNN, whether its weight was dense."""
    if not gemm.ONEDNN_AVAILABLE:
        pytest.skip("this torch build has no oneDNN linear")
    seen = []
    real = gemm._onednn_op

    def spy(a, w):
        seen.append(w.is_contiguous() or w.T.is_contiguous())
        return real(a, w)

    monkeypatch.setattr(gemm, "_onednn_op", spy)
    return seen


@pytest.mark.parametrize(
    "family,options", [("GRU", {"reset": "before"}), ("LSTM", {"peephole": "full"})]
)
def test_onednn_only_sees_weights_its_fast_kernels_take(weight_layouts, family, options):
    # A column slice of a gate buffer handed to oneDNN as a weight ran its reference
    # kernel: these two backwards took ~1000x longer. Every weight must arrive dense.
    module = getattr(seqlab, family)(16, 256, backend="seqlab", **options)
    x = torch.randn(20, 32, 16, requires_grad=True)  # (T, B, I): B·H·2H past ONEDNN_MIN_WORK
    out, _ = module(x)
    torch.autograd.grad(out.sum(), [x, *module.parameters()])
    assert weight_layouts, "the products of this size should go through oneDNN"
    assert all(weight_layouts), weight_layouts


def test_a_strided_weight_is_made_dense_before_onednn(weight_layouts):
    a = torch.randn(64, 256)
    w = torch.randn(512, 512)[:, :256]  # (N, K) = (512, 256), rows 512 apart
    out = torch.randn(64, 512)
    tol = {"atol": 1e-4, "rtol": 1e-5}
    torch.testing.assert_close(gemm.linear(a, w), a @ w.T, **tol)
    torch.testing.assert_close(gemm.addmm(out, a, w), out + a @ w.T, **tol)
    torch.testing.assert_close(gemm.add_linear_(out.clone(), a, w), out + a @ w.T, **tol)
    assert len(weight_layouts) == 3 and all(weight_layouts), weight_layouts
