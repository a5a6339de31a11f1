"""Spectra of U and the gradient decay they predict, against closed forms and autograd."""

import math

import pytest
import torch

from seqlab.analysis.spectrum import (
    KINDS,
    eigenvalue_metrics,
    eigenvalue_snapshots,
    eigenvalues,
    fit_decay_rate,
    gradient_by_distance,
    gradient_vs_length,
    random_inputs,
    recurrent_matrix,
    spectral_radius,
    unit_vector,
)
from seqlab.errors import InputError

F64 = torch.float64


def setup(kind: str, radius: float, H: int = 6, T: int = 25, B: int = 3, scale: float = 0.5):
    gen = torch.Generator().manual_seed(7)
    U = recurrent_matrix(kind, H, radius, gen)
    return U, unit_vector(H, gen), random_inputs(T, B, H, scale, gen)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("radius", [0.5, 1.0, 1.5])
def test_matrices_have_the_requested_spectral_radius(kind, radius):
    U = recurrent_matrix(kind, 10, radius, torch.Generator().manual_seed(1))
    assert U.shape == (10, 10) and U.dtype == F64
    assert spectral_radius(U) == pytest.approx(radius, rel=1e-10)
    lam = eigenvalues(U)
    assert lam.abs()[0] == pytest.approx(radius, rel=1e-10)  # largest modulus first
    assert bool((lam.abs()[:-1] >= lam.abs()[1:] - 1e-12).all())
    if kind != "gaussian":  # normal: every |λ| = ρ and UᵀU = ρ²I
        torch.testing.assert_close(lam.abs(), torch.full((10,), radius, dtype=F64))
        torch.testing.assert_close(U.T @ U, radius**2 * torch.eye(10, dtype=F64))
    else:  # non-normal, so ‖U‖₂ > |λ_max|
        assert torch.linalg.matrix_norm(U, 2) > 1.2 * radius


def test_matrices_are_seeded_and_bad_kinds_are_named():
    a = recurrent_matrix("gaussian", 5, 0.9, torch.Generator().manual_seed(3))
    b = recurrent_matrix("gaussian", 5, 0.9, torch.Generator().manual_seed(3))
    c = recurrent_matrix("gaussian", 5, 0.9, torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)
    with pytest.raises(InputError, match="kind='unitary'"):
        recurrent_matrix("unitary", 5, 0.9, torch.Generator())
    with pytest.raises(InputError, match="radius=0"):
        recurrent_matrix("identity", 5, 0, torch.Generator())


@pytest.mark.parametrize("kind", ["orthogonal", "identity"])
@pytest.mark.parametrize("radius", [0.5, 1.0, 1.5])
def test_linear_gradient_is_exactly_radius_to_the_distance_for_normal_matrices(kind, radius):
    U, g, x = setup(kind, radius)
    norms = gradient_by_distance(U, "linear", x, g)  # [d] = ‖g U^d‖ = ρ^d ‖g‖
    expected = radius ** torch.arange(x.shape[0], dtype=F64)
    torch.testing.assert_close(norms, expected, rtol=1e-12, atol=0)


def test_linear_gradient_is_g_times_U_to_the_distance_for_a_gaussian():
    U, g, x = setup("gaussian", 1.1)
    norms = gradient_by_distance(U, "linear", x, g)
    # Row vector g·U^d (BPTT's δ_{t-1} = δ_t U): U^d·g would differ for a non-normal U.
    expected = torch.stack([(g @ torch.linalg.matrix_power(U, d)).norm() for d in range(25)])
    torch.testing.assert_close(norms, expected, rtol=1e-10, atol=0)
    wrong = torch.stack([(torch.linalg.matrix_power(U, d) @ g).norm() for d in range(25)])
    assert not torch.allclose(norms, wrong, rtol=1e-3)


def test_one_long_linear_run_equals_one_run_per_length():
    U, g, x = setup("gaussian", 0.9)
    long = gradient_vs_length(U, "linear", x, g)
    for T in (1, 2, 9, 25):
        # ‖∂E/∂A_{z_1}‖ of a length-T sequence, with other inputs: the same number.
        assert gradient_by_distance(U, "linear", -3 * x[:T], g)[T - 1] == pytest.approx(
            float(long[T - 1]), rel=1e-12
        )


def test_tanh_gradient_of_the_first_frame_matches_autograd_and_differs_from_the_long_run():
    U, g, x = setup("orthogonal", 1.2)
    by_length = gradient_vs_length(U, "tanh", x, g)

    def autograd_first_frame(T):
        first = x[0].clone().requires_grad_()  # A_{z_1} = x_1 + U z_0, z_0 = 0
        z = torch.tanh(first)
        for t in range(1, T):
            z = torch.tanh(x[t] + z @ U.T)  # A_{z_t} = W x_t + U z_{t-1}, W = I, no bias
        (z @ g).sum().backward()
        return first.grad.norm() / math.sqrt(x.shape[1])  # RMS over the batch

    for T in (1, 5, 25):
        assert float(by_length[T - 1]) == pytest.approx(float(autograd_first_frame(T)), rel=1e-10)
    # The long run's far frames see warmed-up states: not the same quantity for tanh.
    long = gradient_by_distance(U, "tanh", x, g)
    assert not torch.allclose(long[5:], by_length[5:], rtol=1e-3)
    # diag(1 - z²) <= I and a normal U: never above ρ^(T-1).
    assert bool((by_length <= 1.2 ** torch.arange(25, dtype=F64) * (1 + 1e-12)).all())


def test_fit_recovers_a_geometric_rate_and_stops_at_underflow():
    d = torch.arange(40, dtype=F64)
    fit = fit_decay_rate(3.0 * 0.8**d)
    assert fit.rate == pytest.approx(0.8, rel=1e-12)
    assert fit.intercept == pytest.approx(math.log(3.0), rel=1e-12)
    assert (fit.first, fit.last, fit.points) == (0, 39, 40)
    # A transient before d = 5 is skipped; values past underflow (0, inf) end the window.
    norms = torch.cat([torch.full((5,), 50.0), 0.5 ** d[5:30], torch.zeros(3), torch.ones(2)])
    fit = fit_decay_rate(norms, skip=5)
    assert fit.rate == pytest.approx(0.5, rel=1e-12) and (fit.first, fit.last) == (5, 29)
    fit = fit_decay_rate(torch.tensor([1.0, 1e-10, 1e-300, 1e-310]), floor=1e-250)
    assert fit.last == 1
    with pytest.raises(InputError, match="at least 2"):
        fit_decay_rate(torch.tensor([1.0, math.inf, 1.0]))


@pytest.mark.parametrize("kind", KINDS)
def test_linear_fitted_rate_is_within_ten_percent_of_the_spectral_radius(kind):
    """The experiment's claim at small scale: 16 units, T <= 60, fit from d = 5."""
    for radius in (0.5, 0.9, 1.0, 1.1, 1.5):
        U, g, x = setup(kind, radius, H=16, T=60, B=1)
        fit = fit_decay_rate(gradient_vs_length(U, "linear", x, g), skip=5)
        assert fit.rate == pytest.approx(spectral_radius(U), rel=0.1), (kind, radius)


def test_eigenvalues_round_trip_through_logged_metrics():
    U = recurrent_matrix("gaussian", 5, 0.7, torch.Generator().manual_seed(2))
    metrics = eigenvalue_metrics(U)
    assert metrics["spectral_radius"] == (pytest.approx(0.7), 1.0)
    rows = [
        {"step": 10, "split": "train", "loss": 1.0},
        {"step": 20, "split": "valid", "loss": 0.5, **{k: v for k, (v, _) in metrics.items()}},
    ]
    steps, snaps = eigenvalue_snapshots(rows)
    assert steps == [20]
    torch.testing.assert_close(torch.tensor(snaps[0], dtype=torch.complex128), eigenvalues(U))
