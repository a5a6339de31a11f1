r"""The spectrum of the recurrent matrix U and the decay of ‖∂E/∂A_{z_t}‖ it predicts.

A vanilla RNN ``A_{z_t} = W x_t + U z_{t-1} + b``, ``z_t = φ(A_{z_t})`` (U = ``weight_hh``),
with the error only at the last frame T, ``E = Σ_b g·z_T`` for a fixed unit vector g. The
engine's backward (:mod:`seqlab.recurrent.rnn`) computes, as row vectors,

    ∂E/∂A_{z_T} = g ⊙ φ'(A_{z_T}),      ∂E/∂A_{z_{t-1}} = (∂E/∂A_{z_t} U) ⊙ φ'(A_{z_{t-1}})

so at distance d = T - t

    linear (φ' = 1):  ∂E/∂A_{z_t} = g U^d,                  ‖g U^d‖ ~ |λ_max(U)|^d
    tanh:             ∂E/∂A_{z_t} = g D_T U D_{T-1} ⋯ U D_t,  D_s = diag(1 - z_s²), 0 < D_s ≤ I

(‖U^d‖^{1/d} → |λ_max| by Gelfand's formula: the per-step rate is the spectral radius.) For a
normal U (orthogonal × ρ, ρ·I) ‖v D U‖ ≤ ρ‖v‖, so tanh can only lower the rate below ρ; for a
non-normal U (Gaussian) that bound is ‖U‖₂ ≥ ρ instead, and only measurement tells.

"‖∂E/∂A_{z_1}‖ for a sequence of length T" is the norm at distance T - 1 of a length-T run.
In the linear case it does not depend on the inputs or on where the window lies, so one
forward+backward of length T_max gives it for every T ≤ T_max at once
(:func:`gradient_by_distance`).
With tanh the D_s depend on the states, which depend on how long the network has run from
z_0 = 0: the frames near the end of a long run see warmed-up states, the first frames of a
length-T run do not. :func:`gradient_vs_length` therefore runs one sequence per length for tanh
(the quantity by its definition, all lengths sharing one input stream) and the single long run for
the linear case.

Shapes: U (H, H), inputs (T, B, H) (``W = I``, no bias: A_{z_t} = x_t + U z_{t-1}); norms are
root-mean-square over the B sequences of the per-sequence Euclidean norm.
"""

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from ..errors import InputError
from ..recurrent import RNN
from .gradient_flow import record_gradient_flow

KINDS = ("orthogonal", "gaussian", "identity")
NONLINEARITIES = ("linear", "tanh")
F64 = torch.float64


# ---------------------------------------------------------------------------------- matrices
def recurrent_matrix(kind: str, hidden_size: int, radius: float, gen: torch.Generator) -> Tensor:
    """U (H, H) in float64 with spectral radius ``radius``:

    - ``"orthogonal"``: ρ·Q, Q a random orthogonal matrix (QR of a Gaussian, signs fixed so Q
      is Haar-distributed): every |λ| = ρ, and ‖U‖₂ = ρ.
    - ``"gaussian"``: G / |λ_max(G)| · ρ with G_ij ~ N(0, 1/H): eigenvalues fill a disc of radius
      ρ (circular law); non-normal, ‖U‖₂ ≈ 2ρ.
    - ``"identity"``: ρ·I.
    """
    if kind not in KINDS:
        raise InputError(f"kind={kind!r}: expected one of {KINDS}")
    if hidden_size < 1 or not radius > 0:
        raise InputError(f"hidden_size={hidden_size}, radius={radius}: expected >= 1 and > 0")
    H = hidden_size
    if kind == "identity":
        return radius * torch.eye(H, dtype=F64)
    G = torch.randn(H, H, generator=gen, dtype=F64)
    if kind == "orthogonal":
        Q, R = torch.linalg.qr(G)
        # QR's Q is not uniform over O(H) unless diag(R) > 0: flip the columns that need it.
        return radius * Q * torch.sign(torch.diagonal(R))
    G = G / math.sqrt(H)
    return G * (radius / spectral_radius(G))


def eigenvalues(U: Tensor) -> Tensor:
    """The eigenvalues of U (H,) as complex128, largest modulus first."""
    lam = torch.linalg.eigvals(U.detach().to("cpu", F64))
    return lam[torch.argsort(lam.abs(), descending=True, stable=True)]


def spectral_radius(U: Tensor) -> float:
    """|λ_max(U)|."""
    return float(torch.linalg.eigvals(U.detach().to("cpu", F64)).abs().max())


def eigenvalue_metrics(U: torch.Tensor) -> dict[str, tuple[float, float]]:
    """U's eigenvalues as metrics in a Trainer task's ``name -> (sum, count)`` form:
    ``spectral_radius``, then ``eig_re_00``, ``eig_im_00``, ... largest modulus first (plain
    floats, so they can be logged to ``metrics.jsonl`` and read back by
    :func:`eigenvalue_snapshots`)."""
    lam = eigenvalues(U)
    out = {"spectral_radius": (float(lam.abs().max()), 1.0)}
    for i, value in enumerate(lam.tolist()):
        out[f"eig_re_{i:02d}"] = (value.real, 1.0)
        out[f"eig_im_{i:02d}"] = (value.imag, 1.0)
    return out


def eigenvalue_snapshots(rows: list[dict]) -> tuple[list[int], list[list[complex]]]:
    """(steps, eigenvalues) from logged rows (dicts with ``step``, ``split`` "valid" and the keys
    of :func:`eigenvalue_metrics`); other rows are skipped."""
    steps, snaps = [], []
    for row in rows:
        if row.get("split") == "valid" and "eig_re_00" in row:
            count = sum(1 for name in row if name.startswith("eig_re_"))
            steps.append(row["step"])
            values = [complex(row[f"eig_re_{i:02d}"], row[f"eig_im_{i:02d}"]) for i in range(count)]
            snaps.append(values)
    return steps, snaps


def unit_vector(hidden_size: int, gen: torch.Generator) -> Tensor:
    """g (H,): a random direction, the error's ∂E/∂z_T."""
    g = torch.randn(hidden_size, generator=gen, dtype=F64)
    return g / g.norm()


def random_inputs(
    length: int, batch: int, hidden_size: int, scale: float, gen: torch.Generator
) -> Tensor:
    """x (T, B, H) with entries N(0, scale²): they set the states, hence tanh's φ'."""
    return scale * torch.randn(length, batch, hidden_size, generator=gen, dtype=F64)


# ---------------------------------------------------------------------------------- gradients
def _network(U: Tensor, nonlinearity: str) -> RNN:
    """The engine's RNN with W = I, no bias, U = ``U``, in float64 (the traced backward)."""
    if nonlinearity not in NONLINEARITIES:
        raise InputError(f"nonlinearity={nonlinearity!r}: expected one of {NONLINEARITIES}")
    H = U.shape[0]
    rnn = RNN(H, H, nonlinearity=nonlinearity, bias=False, backend="seqlab", dtype=F64)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.eye(H, dtype=F64))
        rnn.weight_hh_l0.copy_(U)
    return rnn


def _last_frame_norms(rnn: RNN, x: Tensor, g: Tensor) -> Tensor:
    """(T,) RMS over the batch of ‖∂E/∂A_{z_t}‖, E = Σ_b g·z_T^{(b)}, from the engine's trace."""
    with record_gradient_flow() as flow:
        out, _ = rnn(x)  # (T, B, H)
        torch.autograd.grad((out[-1] @ g).sum(), [rnn.weight_hh_l0])
    return flow.norms("pre_activation") / math.sqrt(x.shape[1])


def gradient_by_distance(U: Tensor, nonlinearity: str, x: Tensor, g: Tensor) -> Tensor:
    """One forward+backward over all of ``x`` (T, B, H); returns (T,) with ``[d]`` the norm of
    ∂E/∂A_{z_{T-d}}, d = 0 … T-1 (the distance from the error)."""
    return _last_frame_norms(_network(U, nonlinearity), x, g).flip(0)


def gradient_vs_length(U: Tensor, nonlinearity: str, x: Tensor, g: Tensor) -> Tensor:
    """(T_max,) with ``[T - 1]`` = ‖∂E/∂A_{z_1}‖ for the sequence ``x[:T]`` of length T.

    Linear: read from one run of length T_max (exact, see the module docstring). tanh: one run
    per length (T_max²/2 steps), because its φ' depends on how far a frame is from z_0 = 0.
    """
    if nonlinearity == "linear":
        return gradient_by_distance(U, nonlinearity, x, g)
    rnn = _network(U, nonlinearity)
    return torch.stack([_last_frame_norms(rnn, x[:T], g)[0] for T in range(1, x.shape[0] + 1)])


# ---------------------------------------------------------------------------------- the fit
@dataclass(frozen=True)
class DecayFit:
    """``log ‖·‖_d ≈ intercept + slope·d`` over distances ``first … last``; rate = e^slope."""

    rate: float
    slope: float
    intercept: float
    first: int
    last: int
    points: int


def fit_decay_rate(norms: Tensor, skip: int = 0, floor: float = 1e-250) -> DecayFit:
    """Least-squares line through log-norm against distance d = ``skip`` … (``norms[d]``).

    ``skip`` drops the first distances, where a non-normal U's transient (‖g U^d‖ can first grow
    while |λ_max| < 1) hides the asymptotic rate. The window stops before the first norm that is
    not finite or lies outside [floor, 1/floor]: float64 would lose it to under- or overflow.
    """
    logs = []
    for value in norms[skip:].tolist():
        if not (math.isfinite(value) and floor <= value <= 1.0 / floor):
            break
        logs.append(math.log(value))
    if len(logs) < 2:
        raise InputError(
            f"{len(logs)} usable norms from distance {skip}: a fit needs at least 2; "
            f"lower the skip ({skip}) or measure longer sequences"
        )
    d = torch.arange(skip, skip + len(logs), dtype=F64)
    y = torch.tensor(logs, dtype=F64)
    d_mean, y_mean = d.mean(), y.mean()
    slope = float(((d - d_mean) * (y - y_mean)).sum() / (d - d_mean).pow(2).sum())
    intercept = float(y_mean - slope * d_mean)
    return DecayFit(math.exp(slope), slope, intercept, skip, skip + len(logs) - 1, len(logs))
