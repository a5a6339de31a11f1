r"""Greedy and beam search over any autoregressive model given as a step function.

The model is one step, ``step(tokens (N,) long, state) -> (logits (N, V), state, alignment)``,
where the alignment is the step's attention weights (N, S) or ``None``. A state is ``None``, a
tensor with leading dim N, or a (nested) tuple / list / dict of those: a recurrent decoder's hidden
state next to the encoder outputs and mask it attends over, or a Transformer's cache. Search
reorders it by its leading dim with :func:`select_state` and widens it with :func:`repeat_state`.

A hypothesis y_1 … y_n (y_n = EOS when finished) is scored with the length-normalised log-prob::

    log p(y) = Σ_i log softmax(logits_i)[y_i]            length n counts the EOS
    score(y) = log p(y) / n^α                             α = length_penalty (0: raw log-prob)

Beam search with beam k, per batch row: start from one alive hypothesis [BOS] (log-prob 0); at each
step extend every alive hypothesis by every token and keep the k − f best extensions by log p,
where f is the number of the row's finished hypotheses (the candidates of one step share a length,
so log p ranks them as the score does). Kept extensions ending in EOS finish. A row is done when
nothing is alive; after ``max_len`` steps the alive ones join the finished with ``finished=False``.
The answer is the finished hypothesis of highest score. beam=1 is greedy; a beam as wide as the
number of hypotheses is exhaustive. Equivalent to this loop for one row::

    alive, done = [([], 0.0)], []
    for _ in range(max_len):
        ext = sorted(((y + [v], lp + log_p(v | y)) for y, lp in alive for v in range(V)),
                     key=lambda e: -e[1])[: beam - len(done)]
        done += [e for e in ext if e[0][-1] == eos]
        alive = [e for e in ext if e[0][-1] != eos]
        if not alive:
            break
    best = max(done + alive, key=score)

Shapes: B batch rows, beam k, N = B (greedy) or B·k (beam: row b owns slots b·k … b·k+k−1),
V vocabulary, S attended positions. All rows run together: one ``step`` call per time step; dead
slots carry a log-prob of −∞ inside the fixed (B, k) tensors. Ties between equal log-probs are
broken by ``argmax`` / ``topk``.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ..errors import InputError

State = Any  # None | Tensor | tuple / list / dict of States
Step = Callable[[Tensor, State], tuple[Tensor, State, Tensor | None]]


@dataclass
class Hypothesis:
    """One decoded sequence.

    tokens: emitted ids without BOS and without the final EOS. log_prob: Σ log p of every emitted
    token, EOS included. score: ``log_prob / length ** length_penalty`` with length = emitted tokens
    including EOS. finished: ended with EOS (False: cut at ``max_len``). alignment: (length, S),
    the step's attention weights for each emitted token (EOS row included), on the CPU; ``None``
    when the step gave none.
    """

    tokens: list[int]
    log_prob: float
    score: float
    finished: bool
    alignment: Tensor | None


# -- the state tree ------------------------------------------------------------------------------
def _map_state(state: State, fn: Callable[[Tensor, str], Tensor], path: str = "state") -> State:
    """Apply ``fn(tensor, path)`` to every tensor leaf, keeping the tree's containers."""
    if state is None:
        return None
    if isinstance(state, Tensor):
        return fn(state, path)
    if isinstance(state, dict):
        return type(state)((k, _map_state(v, fn, f"{path}[{k!r}]")) for k, v in state.items())
    if isinstance(state, (tuple, list)):
        items = [_map_state(v, fn, f"{path}[{i}]") for i, v in enumerate(state)]
        if hasattr(state, "_fields"):  # a NamedTuple rebuilds from positional fields
            return type(state)(*items)
        return type(state)(items)
    raise InputError(
        f"{path} is a {type(state).__name__}: a state holds only None, tensors with leading dim N, "
        "and tuples / lists / dicts of those; keep other values outside the state"
    )


def _leading(tensor: Tensor, path: str) -> None:
    if tensor.dim() == 0:
        raise InputError(f"{path} is a 0-dim tensor: state tensors need a leading dim N (rows)")


def select_state(state: State, index: Tensor) -> State:
    """``tensor.index_select(0, index)`` for every tensor of ``state``; index (M,) integer ids."""
    if not isinstance(index, Tensor) or index.dim() != 1 or index.is_floating_point():
        raise InputError("index: expected a 1-D integer tensor of row ids, e.g. tensor([1, 0])")
    index = index.long()

    def pick(tensor: Tensor, path: str) -> Tensor:
        _leading(tensor, path)
        return tensor.index_select(0, index.to(tensor.device))

    return _map_state(state, pick)


def repeat_state(state: State, times: int) -> State:
    """``tensor.repeat_interleave(times, 0)`` for every tensor: row b becomes rows b·t … b·t+t−1."""
    if not isinstance(times, int) or isinstance(times, bool) or times < 1:
        raise InputError(f"times={times!r}: expected an integer >= 1")

    def widen(tensor: Tensor, path: str) -> Tensor:
        _leading(tensor, path)
        return tensor.repeat_interleave(times, 0)

    return _map_state(state, widen)


def _check_rows(state: State, rows: int) -> None:
    """Every tensor of the initial state must hold one row per batch row."""

    def check(tensor: Tensor, path: str) -> Tensor:
        _leading(tensor, path)
        if tensor.shape[0] != rows:
            raise InputError(
                f"{path} has shape {tuple(tensor.shape)}: expected leading dim batch_size={rows} "
                "(state tensors are batch-first; transpose time-major ones)"
            )
        return tensor

    _map_state(state, check)


def _device(state: State) -> torch.device:
    """Where the first token ids go: the device of the state's first tensor, else the CPU."""
    found = []
    _map_state(state, lambda t, _: found.append(t.device) or t)
    return found[0] if found else torch.device("cpu")


# -- checks --------------------------------------------------------------------------------------
def _check_int(name: str, value: Any, least: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < least:
        raise InputError(f"{name}={value!r}: expected an integer >= {least}")


def _call(step: Step, tokens: Tensor, state: State, first: bool, bos: int, eos: int):
    """One model step with its output checked: -> (log-probs (N, V) float64, state, attn)."""
    out = step(tokens, state)
    if not isinstance(out, tuple) or len(out) != 3:
        raise InputError("step must return (logits (N, V), new state, attention (N, S) or None)")
    logits, state, attn = out
    N = tokens.shape[0]
    if not isinstance(logits, Tensor) or logits.dim() != 2 or logits.shape[0] != N:
        shape = tuple(logits.shape) if isinstance(logits, Tensor) else type(logits).__name__
        raise InputError(f"logits of shape {shape} from step: expected (N, V) with N={N}")
    if first:
        V = logits.shape[1]
        for name, value in (("bos", bos), ("eos", eos)):
            if not 0 <= value < V:
                raise InputError(f"{name}={value}: expected a token id in [0, {V}) for V={V}")
    if attn is not None and (not isinstance(attn, Tensor) or attn.dim() != 2 or len(attn) != N):
        shape = tuple(attn.shape) if isinstance(attn, Tensor) else type(attn).__name__
        raise InputError(f"attention of shape {shape} from step: expected (N, S) or None, N={N}")
    # float64 so that long sums of log-probs rank hypotheses the same way however they are batched
    return torch.log_softmax(logits.double(), dim=-1), state, attn


def _check_common(batch_size: int, bos: int, eos: int, max_len: int, state: State) -> None:
    _check_int("batch_size", batch_size, 1)
    _check_int("max_len", max_len, 1)
    for name, value in (("bos", bos), ("eos", eos)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise InputError(f"{name}={value!r}: expected a token id, an integer >= 0")
    _check_rows(state, batch_size)


def _hypothesis(tokens, log_prob, finished, alignment, length_penalty) -> Hypothesis:
    length = len(tokens)  # emitted, EOS included
    if finished:
        tokens = tokens[:-1]
    score = log_prob / length**length_penalty
    return Hypothesis(list(tokens), float(log_prob), float(score), finished, alignment)


# -- greedy --------------------------------------------------------------------------------------
@torch.no_grad()
def greedy(step: Step, state: State, batch_size: int, bos: int, eos: int, max_len: int):
    """The argmax token at every step for all B rows at once -> one :class:`Hypothesis` per row.

    ``state`` has leading dim B (``batch_size``); a row stops at its EOS or after ``max_len``
    tokens. Scores use length_penalty 1 (the mean log-prob per token).
    """
    _check_common(batch_size, bos, eos, max_len, state)
    tokens = torch.full((batch_size,), bos, dtype=torch.long, device=_device(state))
    alive = torch.ones(batch_size, dtype=torch.bool, device=tokens.device)
    lengths = torch.zeros(batch_size, dtype=torch.long, device=tokens.device)
    log_prob = torch.zeros(batch_size, dtype=torch.float64, device=tokens.device)
    emitted, aligned = [], []
    for t in range(max_len):
        logp, state, attn = _call(step, tokens, state, t == 0, bos, eos)
        tokens = logp.argmax(dim=-1)  # (B,)
        log_prob += torch.where(alive, logp.gather(1, tokens[:, None])[:, 0], 0.0)
        lengths += alive
        emitted.append(tokens)
        aligned.append(attn)
        alive &= tokens != eos
        if not alive.any():
            break
    ids = torch.stack(emitted, 1).tolist()  # (B, T)
    attns = None if aligned[0] is None else torch.stack(aligned, 1).cpu()  # (B, T, S)
    out = []
    for b, (n, lp) in enumerate(zip(lengths.tolist(), log_prob.tolist(), strict=True)):
        finished = ids[b][n - 1] == eos
        alignment = None if attns is None else attns[b, :n].clone()
        out.append(_hypothesis(ids[b][:n], lp, finished, alignment, 1.0))
    return out


# -- beam search ---------------------------------------------------------------------------------
@torch.no_grad()
def beam_search(
    step: Step,
    state: State,
    batch_size: int,
    bos: int,
    eos: int,
    max_len: int,
    beam: int = 4,
    length_penalty: float = 1.0,
) -> list[Hypothesis]:
    """Beam search for all B rows at once -> the best :class:`Hypothesis` of each row.

    ``state`` has leading dim B; it is widened to B·beam rows (row b's copies side by side).
    """
    _check_common(batch_size, bos, eos, max_len, state)
    _check_int("beam", beam, 1)
    if not isinstance(length_penalty, (int, float)) or not length_penalty >= 0:
        raise InputError(f"length_penalty={length_penalty!r}: expected a number >= 0 (0 = raw)")
    B, K = batch_size, beam
    device = _device(state)
    state = repeat_state(state, K)
    tokens = torch.full((B * K,), bos, dtype=torch.long, device=device)
    alive = torch.full((B, K), float("-inf"), dtype=torch.float64, device=device)  # log p, −∞ dead
    alive[:, 0] = 0.0
    n_done = torch.zeros(B, dtype=torch.long, device=device)
    slot = torch.arange(K, device=device)  # (K,)
    offsets = (torch.arange(B, device=device) * K)[:, None]  # (B, 1)
    # per step, for the kept extension in slot j: its token, its parent slot, its attention row
    emitted, parents, aligned = [], [], []
    done: list[list[tuple[float, int, int, bool]]] = [[] for _ in range(B)]  # (log p, t, j, fin)
    for t in range(max_len):
        logp, state, attn = _call(step, tokens, state, t == 0, bos, eos)
        V = logp.shape[1]
        extended = (alive[:, :, None] + logp.view(B, K, V)).view(B, K * V)  # (B, K·V)
        top, flat = extended.topk(K, dim=1)  # (B, K) best first; K ≤ K·V
        keep = (slot[None, :] < (K - n_done)[:, None]) & torch.isfinite(top)  # (B, K)
        parent, token = flat // V, flat % V  # (B, K)
        ends = keep & (token == eos)
        alive = torch.where(keep & ~ends, top, float("-inf"))
        n_done += ends.sum(1)
        rows = (offsets + parent).view(-1)  # (B·K,) the parent's flat slot
        state = select_state(state, rows)
        tokens = token.view(-1)
        emitted.append(token)
        parents.append(parent)
        aligned.append(None if attn is None else attn.index_select(0, rows).view(B, K, -1))
        ended = ends.nonzero().tolist()
        if ended:
            top_cpu = top.cpu()
            for b, j in ended:
                done[b].append((float(top_cpu[b, j]), t, j, True))
        if not torch.isfinite(alive).any():
            break
    alive = alive.cpu()
    for b, j in torch.isfinite(alive).nonzero().tolist():  # cut at max_len
        done[b].append((float(alive[b, j]), len(emitted) - 1, j, False))
    return _best(done, emitted, parents, aligned, length_penalty)


def _best(done, emitted, parents, aligned, length_penalty) -> list[Hypothesis]:
    """Each row's best finished hypothesis, its tokens traced back through the parent slots."""
    ids = torch.stack(emitted).cpu().tolist()  # (T, B, K)
    back = torch.stack(parents).cpu().tolist()  # (T, B, K)
    attns = None if aligned[0] is None else torch.stack(aligned).cpu()  # (T, B, K, S)
    out = []
    for b, ends in enumerate(done):
        if not ends:
            raise InputError(
                f"row {b}: every token got log p = -inf or NaN; check the step's logits"
            )
        # ties keep the first: the earliest step, then the better log-prob
        log_prob, t, j, finished = max(ends, key=lambda e: e[0] / (e[1] + 1) ** length_penalty)
        tokens, steps = [], []
        for s in range(t, -1, -1):
            tokens.append(ids[s][b][j])
            steps.append((s, j))
            j = back[s][b][j]
        tokens.reverse()
        steps.reverse()
        alignment = None
        if attns is not None:
            alignment = torch.stack([attns[s, b, k] for s, k in steps])  # (length, S)
        out.append(_hypothesis(tokens, log_prob, finished, alignment, length_penalty))
    return out
