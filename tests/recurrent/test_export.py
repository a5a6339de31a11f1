"""Under a tracer the modules record plain ATen ops: ONNX export run by onnxruntime,
torch.jit.trace, torch.export and torch.compile give the module's own numbers, for the variants
torch lacks too; torch.jit.script is refused with a seqlab error."""

import onnxruntime
import pytest
import torch
from onnxruntime.capi.onnxruntime_pybind11_state import InvalidArgument

import seqlab
from seqlab import ExportError

pytestmark = [
    # torch's own deprecations, raised inside torch by the calls these tests are about
    pytest.mark.filterwarnings("ignore:`torch.jit.[a-z_]+` is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:.isinstance.treespec, LeafSpec.. is deprecated"),
    # torch.jit.trace notes that shapes become constants of the trace (torch.nn.LSTM too)
    pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning"),
]

T, B, I, H = 4, 3, 5, 6

CONFIGS = {
    "LSTM seqlab": lambda: seqlab.LSTM(I, H, backend="seqlab"),
    "LSTM auto": lambda: seqlab.LSTM(I, H),
    "LSTM peephole full": lambda: seqlab.LSTM(I, H, peephole="full"),
    "LSTM peephole diagonal": lambda: seqlab.LSTM(I, H, peephole="diagonal"),
    "LSTM projection": lambda: seqlab.LSTM(I, H, proj_size=2),
    "LSTM layer norm": lambda: seqlab.LSTM(I, H, layer_norm=True),
    "GRU reset after": lambda: seqlab.GRU(I, H, backend="seqlab"),
    "GRU reset before": lambda: seqlab.GRU(I, H, reset="before"),
    "GRU layer norm": lambda: seqlab.GRU(I, H, layer_norm=True),
    "RNN tanh": lambda: seqlab.RNN(I, H, backend="seqlab"),
    "RNN sigmoid": lambda: seqlab.RNN(I, H, nonlinearity="sigmoid"),
    "LSTM 2 layers bidirectional": lambda: seqlab.LSTM(
        I, H, 2, bidirectional=True, backend="seqlab"
    ),
    "GRU 2 layers bidirectional auto": lambda: seqlab.GRU(I, H, 2, bidirectional=True),
}
# The configurations whose graph holds ONNX's own recurrent node: backend="auto" hands the
# exporter torch's op where torch has the model (ONNX's LSTM node has no projection); the
# others hold the plain loop, and never oneDNN's internal linear.
TORCH_OP = {"LSTM auto", "GRU 2 layers bidirectional auto"}
# Each export takes seconds on two cores: the default run exports what the issue named.
SLOW = {
    "LSTM peephole diagonal",
    "GRU layer norm",
    "RNN sigmoid",
    "GRU 2 layers bidirectional auto",
}


def _names(names):
    return [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in names]


def _perturbed(make):
    module = make().eval()
    with torch.no_grad():  # layer-norm gains and shifts away from 1 and 0
        for name, p in module.named_parameters():
            if name.startswith("ln_"):
                p.add_(torch.randn_like(p) * 0.3)
    return module


def _example(module):
    LD = module.num_layers * module.num_directions
    x = torch.randn(T, B, I)
    if not isinstance(module, seqlab.LSTM):
        return x, torch.randn(LD, B, H)
    return x, (torch.randn(LD, B, module.proj_size or H), torch.randn(LD, B, H))


def _flat(values):
    if isinstance(values, torch.Tensor):
        return [values]
    return [t for v in values for t in _flat(v)]


def _onnxruntime(module, args):
    """Exports with torch.onnx.export (its default, torch.export-based exporter) and runs the
    graph in onnxruntime; returns its outputs and the graph's op types."""
    program = torch.onnx.export(module, args, dynamo=True, verbose=False)
    session = onnxruntime.InferenceSession(
        program.model_proto.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    names = [i.name for i in session.get_inputs()]
    outputs = session.run(None, dict(zip(names, [t.numpy() for t in _flat(args)], strict=True)))
    return [torch.from_numpy(o) for o in outputs], {
        n.op_type for n in program.model_proto.graph.node
    }


@pytest.mark.parametrize("name", _names(CONFIGS))
def test_onnx_export_runs_in_onnxruntime_with_the_modules_numbers(name):
    module = _perturbed(CONFIGS[name])
    args = _example(module)
    outputs, ops = _onnxruntime(module, args)
    expected = _flat(module(*args))
    assert len(outputs) == len(expected)
    for got, want in zip(outputs, expected, strict=True):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=0)
    assert (type(module).__name__ in ops) == (name in TORCH_OP)


def test_onnx_export_of_a_size_that_takes_onednn_in_the_kernel():
    # T·B·I·4H >= 4M multiply-adds: the hand-derived kernel would call oneDNN's linear here.
    module = seqlab.LSTM(64, 256, backend="seqlab").eval()
    x = torch.randn(4, 16, 64)
    outputs, ops = _onnxruntime(module, (x,))
    for got, want in zip(outputs, _flat(module(x)), strict=True):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=0)
    assert "MatMul" in ops


def test_onnx_export_of_cells():
    for cell in [seqlab.LSTMCell(I, H, peephole="full"), seqlab.GRUCell(I, H, reset="before")]:
        cell.eval()
        x, h = torch.randn(B, I), torch.randn(B, H)
        hx = (h, torch.randn(B, H)) if isinstance(cell, seqlab.LSTMCell) else h
        outputs, _ = _onnxruntime(cell, (x, hx))
        for got, want in zip(outputs, _flat(cell(x, hx)), strict=True):
            torch.testing.assert_close(got, want, atol=1e-5, rtol=0)


def test_an_exported_loop_refuses_another_sequence_length():
    module = seqlab.GRU(I, H, reset="before").eval()
    program = torch.onnx.export(module, (torch.randn(T, B, I),), dynamo=True, verbose=False)
    session = onnxruntime.InferenceSession(program.model_proto.SerializeToString())
    name = session.get_inputs()[0].name
    with pytest.raises(InvalidArgument, match="dimensions"):
        session.run(None, {name: torch.randn(T + 1, B, I).numpy()})


def test_a_traced_loop_refuses_another_sequence_length():
    module = seqlab.GRU(I, H, reset="before").eval()
    traced = torch.jit.trace(module, (torch.randn(T, B, I),))
    with pytest.raises(RuntimeError, match=f"Expected {T} elements in a list but found {T + 2}"):
        traced(torch.randn(T + 2, B, I))


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=pytest.mark.slow) for n in ("LSTM peephole full", "LSTM auto")]
    + ["GRU reset before"],
)
def test_onnx_export_with_lengths(name):
    module = _perturbed(CONFIGS[name])

    class WithLengths(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = module

        def forward(self, x, lengths):
            return self.rnn(x, lengths=lengths)

    x, lengths = torch.randn(T, B, I), torch.tensor([4, 2, 3])
    outputs, _ = _onnxruntime(WithLengths().eval(), (x, lengths))
    for got, want in zip(outputs, _flat(module(x, lengths=lengths)), strict=True):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", list(CONFIGS)[:3] + ["GRU reset before", "RNN tanh"])
def test_jit_trace_gives_a_callable_with_the_modules_numbers(name):
    module = _perturbed(CONFIGS[name])
    args = _example(module)
    traced = torch.jit.trace(module, args)
    other = (torch.randn_like(args[0]), args[1])  # new values, the traced shapes
    for got, want in zip(_flat(traced(*other)), _flat(module(*other)), strict=True):
        torch.testing.assert_close(got, want, atol=1e-6, rtol=0)


def test_torch_export_and_compile_record_the_plain_loop():
    module = _perturbed(lambda: seqlab.LSTM(I, H, peephole="full", layer_norm=True)).eval()
    x = torch.randn(T, B, I)
    expected = _flat(module(x))
    exported = torch.export.export(module, (x,)).module()
    compiled = torch.compile(module, backend="eager")
    for result in (exported(x), compiled(x)):
        for got, want in zip(_flat(result), expected, strict=True):
            torch.testing.assert_close(got, want, atol=1e-6, rtol=0)


@pytest.mark.parametrize("make", [lambda: seqlab.LSTM(I, H), lambda: seqlab.GRUCell(I, H)])
def test_jit_script_is_refused_with_a_seqlab_error(make):
    module = make()
    with pytest.raises(
        ExportError, match="torch.jit.script cannot compile seqlab.*torch.jit.trace"
    ):
        torch.jit.script(module)

    class Parent(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = module

        def forward(self, x):
            return self.rnn(x)[0]

    with pytest.raises(ExportError, match="torch.jit.script"):
        torch.jit.script(Parent())
