"""The floor of a Python-driven LSTM step at batch 1: why seqlab's LSTM trails oneDNN there.

At (B, T, I, H) = (1, 1000, 16, 64) every op works on a few hundred numbers, so a step costs
what launching its ops costs. This times, per step:

- ``bare forward``: the seven ATen ops one LSTM step needs at the least (``addmm_``, one
  ``sigmoid_`` over the gates, ``mul``/``addcmul_``/``sub_`` for c_t, ``tanh``, ``mul`` for h_t)
  on views made before the loop, with nothing else;
- ``bare backward``: the five ops of a backward step (``mul`` for ∂E/∂A_o, ``addcmul`` for δc,
  ``mul`` for ∂E/∂A_{i,f,g}, ``mul`` for δc_{t-1}, ``addmm`` for δh_{t-1}) and their views;
- seqlab's own forward and backward kernels, and ``torch.nn.LSTM`` (oneDNN's fused kernel)
  forward and forward + backward.

    .venv/bin/python benchmarks/step_floor.py [--out benchmarks/results/step_floor.json]
"""

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

import seqlab
from seqlab.recurrent import lstm

T, B, I, H = 1000, 1, 16, 64


def median_ms(fn, repeats: int = 15) -> float:
    fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return 1e3 * statistics.median(samples)


def bare_forward(gates, U, hidden, cells, tanh_c) -> None:
    g4 = gates.view(T, B, 4, H)
    a_s = gates.unbind(0)
    i_s, f_s, g_s, o_s = (g4[:, :, k].unbind(0) for k in range(4))
    hs, cs, tcs = hidden.unbind(0), cells.unbind(0), tanh_c.unbind(0)
    U_t = U.T
    for t in range(T):
        a_s[t].addmm_(hs[t], U_t)
        a_s[t].sigmoid_()
        torch.mul(f_s[t], cs[t], out=cs[t + 1]).addcmul_(i_s[t], g_s[t], value=2.0).sub_(i_s[t])
        torch.tanh(cs[t + 1], out=tcs[t])
        torch.mul(o_s[t], tcs[t], out=hs[t + 1])


def bare_backward(P, R, Q, f, dA, d_out, U) -> None:
    dA4 = dA.view(T, B, 4, H)
    P_s, R_s, Q_s, f_s = P.unbind(0), R.unbind(0), Q.unbind(0), f.unbind(0)
    dA_o, dA_ifg = dA4[:, :, 3].unbind(0), dA4[:, :, :3].transpose(1, 2).unbind(0)
    dA_s, d_out_s = dA.unbind(0), d_out.unbind(0)
    d_out_prev = (torch.zeros(B, H), *d_out_s[:-1])
    dh, dc = d_out_s[-1].clone(), torch.zeros(B, H)
    for t in range(T - 1, -1, -1):
        torch.mul(dh, R_s[t], out=dA_o[t])
        dc = torch.addcmul(dc, dh, P_s[t])
        torch.mul(Q_s[t], dc, out=dA_ifg[t])
        dc = dc * f_s[t]
        dh = torch.addmm(d_out_prev[t], dA_s[t], U)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "step_floor.json"
    )
    args = parser.parse_args()
    torch.manual_seed(0)
    results = {}
    with torch.no_grad():
        U = torch.randn(4 * H, H) * 0.1
        gates = torch.randn(T, B, 4 * H)
        hidden, cells, tanh_c = (
            torch.zeros(T + 1, B, H),
            torch.zeros(T + 1, B, H),
            torch.empty(T, B, H),
        )
        results["bare forward"] = median_ms(
            lambda: bare_forward(gates.clone(), U, hidden, cells, tanh_c)
        )
        factors = [torch.randn(T, B, H), torch.randn(T, B, H), torch.randn(T, 3, B, H)]
        f = torch.rand(T, B, 4, H)[:, :, 1]
        dA, d_out = torch.empty(T, B, 4 * H), torch.randn(T, B, H)
        results["bare backward"] = median_ms(lambda: bare_backward(*factors, f, dA, d_out, U))

        module = seqlab.LSTM(I, H, backend="seqlab")
        p = {n.removesuffix("_l0"): v.detach() for n, v in module.named_parameters()}
        p["weight_peephole"] = None
        x, h0 = torch.randn(T, B, I), torch.zeros(B, H)
        _, saved = lstm.lstm_forward(x, h0, h0, p, None, False, None)
        results["seqlab forward"] = median_ms(
            lambda: lstm.lstm_forward(x, h0, h0, p, None, False, None)
        )
        results["seqlab backward"] = median_ms(
            lambda: lstm.lstm_backward(d_out, h0, h0, x, p, saved, None, False, None, False)
        )
    reference = torch.nn.LSTM(I, H)
    xr = torch.randn(T, B, I, requires_grad=True)
    with torch.inference_mode():
        results["torch.nn forward"] = median_ms(lambda: reference(xr))
    params = [xr, *reference.parameters()]
    results["torch.nn forward + backward"] = median_ms(
        lambda: torch.autograd.grad(reference(xr)[0], params, d_out)
    )
    print(f"LSTM at (B, T, I, H) = ({B}, {T}, {I}, {H}), µs per step (median)")
    for name, ms in results.items():
        print(f"  {name:<30}{ms * 1e3 / T:>8.1f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "config": {"B": B, "T": T, "I": I, "H": H},
        "us_per_step": {k: v * 1e3 / T for k, v in results.items()},
    }
    args.out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
