"""A small ONNX-graph interpreter in torch: run a (simple, static) ONNX model without
onnxruntime or TensorFlow, on CPU or CUDA.

Two parts:

* ``read_onnx(path)`` (``workstation.inference.onnx_proto``, re-exported here) reads an ONNX
  file with a minimal protobuf decoder written here (no ``onnx`` or ``protobuf`` package).
* ``OnnxGraph(graph)`` is an ``nn.Module`` that runs the nodes in file order (ONNX stores them
  topologically sorted) with torch ops. Floating-point initializers are registered buffers
  (so ``.to(device)`` moves them); integer initializers are shape data (reshape targets, pad
  widths, slice bounds...) and stay on the CPU as plain tensors. Everything a node can know at
  load time (attributes, constant shape / pad / slice / axes inputs) is decoded once when the
  module is built; ``forward`` only calls the prepared closures and frees every intermediate
  after its last use. ``Shape`` gives a CPU int64 tensor, so shape arithmetic never syncs a
  CUDA device.

Supported ops (the set used by Spotify's basic-pitch ``nmp.onnx`` and a few neighbours):
Add, Sub, Mul, Div, Neg, Relu, Sigmoid, Sqrt, Log, Equal, Where, Cast, Shape, Reshape,
Unsqueeze, Transpose, Concat, Slice, Pad (constant / reflect / edge), Conv (1-D and 2-D),
ReduceSum, ReduceMin, ReduceMax. An unsupported op raises ``ModelError`` at load time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from workstation.core.errors import ModelError
from workstation.inference.onnx_proto import OnnxGraphDef, OnnxNode, read_onnx  # noqa: F401 (re-exported)

#: ONNX TensorProto.DataType -> torch dtype (``Cast``'s ``to``).
_TORCH_DTYPES: dict[int, torch.dtype] = {
    1: torch.float32, 2: torch.uint8, 3: torch.int8, 5: torch.int16, 6: torch.int32,
    7: torch.int64, 9: torch.bool, 10: torch.float16, 11: torch.float64, 16: torch.bfloat16}


# ---------------------------------------------------------------------------------------------
# Op builders: node + constants known at load -> closure over the dynamic inputs
# ---------------------------------------------------------------------------------------------

Step = Callable[..., torch.Tensor]
#: op type -> builder(node, consts) -> (closure, names of the inputs the closure takes).
_BUILDERS: dict[str, Callable[[OnnxNode, dict[str, np.ndarray]], tuple[Step, list[str]]]] = {}


def _op(*names: str):
    def deco(fn):
        for n in names:
            _BUILDERS[n] = fn
        return fn
    return deco


def _const(node: OnnxNode, consts: dict, i: int) -> list[int] | None:
    """Input ``i`` as a python list if it is absent (None) or known at load, else raise."""
    if i >= len(node.inputs) or not node.inputs[i]:
        return None
    if node.inputs[i] not in consts:
        raise ModelError(f"ONNX {node.op_type} {node.name!r}: input {i} must be a constant")
    return np.asarray(consts[node.inputs[i]]).reshape(-1).tolist()


_ELEMENTWISE: dict[str, Callable[..., torch.Tensor]] = {
    "Add": torch.add, "Sub": torch.sub, "Mul": torch.mul, "Neg": torch.neg, "Relu": torch.relu,
    "Sigmoid": torch.sigmoid, "Sqrt": torch.sqrt, "Log": torch.log, "Equal": torch.eq,
    "Where": torch.where}


@_op(*_ELEMENTWISE)
def _build_elementwise(node, consts):
    return _ELEMENTWISE[node.op_type], node.inputs


@_op("Div")
def _build_div(node, consts):
    def div(a, b):   # ONNX integer division truncates
        if a.dtype.is_floating_point or b.dtype.is_floating_point:
            return torch.div(a, b)
        return torch.div(a, b, rounding_mode="trunc")
    return div, node.inputs


@_op("Cast")
def _build_cast(node, consts):
    dtype = _TORCH_DTYPES[node.attrs["to"]]
    return (lambda x: x.to(dtype)), node.inputs[:1]


@_op("Shape")
def _build_shape(node, consts):
    start, end = node.attrs.get("start", 0), node.attrs.get("end", None)
    return (lambda x: torch.tensor(x.shape[start:end], dtype=torch.int64)), node.inputs[:1]


@_op("Reshape")
def _build_reshape(node, consts):
    def reshape(x, shape):
        dims = shape if isinstance(shape, list) else shape.tolist()
        return x.reshape([x.shape[i] if d == 0 else d for i, d in enumerate(dims)])
    if node.attrs.get("allowzero", 0):
        raise ModelError("ONNX Reshape with allowzero=1 is not supported")
    if node.inputs[1] in consts:
        shape = _const(node, consts, 1)
        return (lambda x: reshape(x, shape)), node.inputs[:1]
    return reshape, node.inputs[:2]


@_op("Unsqueeze")
def _build_unsqueeze(node, consts):
    axes = node.attrs.get("axes") or _const(node, consts, 1)

    def unsqueeze(x):
        rank = x.dim() + len(axes)
        for a in sorted(a % rank for a in axes):
            x = x.unsqueeze(a)
        return x
    return unsqueeze, node.inputs[:1]


@_op("Transpose")
def _build_transpose(node, consts):
    perm = node.attrs.get("perm")
    return (lambda x: x.permute(perm or list(range(x.dim()))[::-1])), node.inputs[:1]


@_op("Concat")
def _build_concat(node, consts):
    axis = node.attrs["axis"]
    return (lambda *xs: torch.cat(xs, dim=axis)), node.inputs


@_op("Slice")
def _build_slice(node, consts):
    starts, ends = _const(node, consts, 1), _const(node, consts, 2)
    axes = _const(node, consts, 3) or list(range(len(starts)))
    steps = _const(node, consts, 4) or [1] * len(starts)
    if any(s <= 0 for s in steps):
        raise ModelError("ONNX Slice with a step <= 0 is not supported")

    def slice_(x):
        index = [slice(None)] * x.dim()
        for a, s, e, st in zip(axes, starts, ends, steps):
            index[a % x.dim()] = slice(s, e, st)
        return x[tuple(index)]
    return slice_, node.inputs[:1]


def _pad_axis(x: torch.Tensor, axis: int, before: int, after: int, mode: str) -> torch.Tensor:
    """Reflect (mirror without the edge sample) or edge (repeat) padding of one axis."""
    n = x.shape[axis]
    if mode == "reflect":
        left = x.narrow(axis, 1, before).flip(axis)
        right = x.narrow(axis, n - 1 - after, after).flip(axis)
    else:
        left = x.narrow(axis, 0, 1).expand(*[before if i == axis else -1 for i in range(x.dim())])
        right = x.narrow(axis, n - 1, 1).expand(*[after if i == axis else -1 for i in range(x.dim())])
    return torch.cat([left, x, right], dim=axis)


@_op("Pad")
def _build_pad(node, consts):
    pads = _const(node, consts, 1) or node.attrs.get("pads")
    value = (_const(node, consts, 2) or [node.attrs.get("value", 0.0)])[0]
    mode = node.attrs.get("mode", "constant")
    rank = len(pads) // 2
    if min(pads) < 0 or mode not in ("constant", "reflect", "edge"):
        raise ModelError(f"ONNX Pad: mode {mode!r} / negative pads are not supported")
    if mode == "constant":
        torch_pads = [p for a in reversed(range(rank)) for p in (pads[a], pads[a + rank])]
        return (lambda x: F.pad(x, torch_pads, mode="constant", value=value)), node.inputs[:1]
    todo = [(a, pads[a], pads[a + rank]) for a in range(rank) if pads[a] or pads[a + rank]]

    def pad(x):
        for a, before, after in todo:
            x = _pad_axis(x, a, before, after, mode)
        return x
    return pad, node.inputs[:1]


@_op("Conv")
def _build_conv(node, consts):
    at = node.attrs
    if at.get("auto_pad", "NOTSET") not in ("NOTSET", ""):
        raise ModelError("ONNX Conv with auto_pad is not supported")
    k = len(at.get("kernel_shape") or consts[node.inputs[1]].shape[2:])
    if k not in (1, 2):
        raise ModelError(f"ONNX Conv over {k} dims is not supported")
    pads = at.get("pads", [0] * 2 * k)
    fir = _polyphase_fir(node, consts, k, pads)
    if fir is not None:
        return fir
    sym = all(pads[i] == pads[i + k] for i in range(k))
    extra = [] if sym else [p for a in reversed(range(k)) for p in (pads[a], pads[a + k])]
    kw = dict(stride=at.get("strides", [1] * k), dilation=at.get("dilations", [1] * k),
              groups=at.get("group", 1), padding=pads[:k] if sym else 0)
    conv = F.conv1d if k == 1 else F.conv2d
    # channels-last is 1.2-4x faster with oneDNN here (e.g. basic-pitch's 8->8 3x39 conv)
    fmt = torch.channels_last if k == 2 else torch.contiguous_format

    def conv_(x, w, b=None):
        x = F.pad(x, extra) if extra else x
        return conv(x.contiguous(memory_format=fmt), w.contiguous(memory_format=fmt), b, **kw)
    return conv_, [i for i in node.inputs if i]


#: Output samples computed per block by a polyphase single-channel FIR (``_polyphase_fir``).
_FIR_BLOCK = 32


def _polyphase_fir(node, consts, k, pads):
    """A strided single-channel FIR (2-D Conv, constant weight [shape=(1, 1, 1, K)], stride
    (1, s) with s >= 2, no padding, dilation or groups: e.g. the anti-aliasing filter before each
    octave's downsampling in basic-pitch's CQT) as a stride-1 1-D convolution over the input's
    ``S = s * P`` polyphase components with ``P`` (``_FIR_BLOCK``) output channels, one per
    output sample of a block of ``P``. Same sums (float rounding aside); oneDNN runs the
    one-in one-out strided convolution about 8x slower than this. -> (closure, input names), or
    None where the node is not such a FIR."""
    at, wname = node.attrs, node.inputs[1]
    w = consts.get(wname)
    strides = at.get("strides", [1] * k)
    if (k != 2 or w is None or w.shape[:3] != (1, 1, 1) or strides[0] != 1 or strides[1] < 2
            or any(pads) or at.get("group", 1) != 1 or any(d != 1 for d in at.get("dilations", [1, 1]))):
        return None
    h, s, P = np.asarray(w, np.float32).reshape(-1), int(strides[1]), _FIR_BLOCK
    K, S = len(h), int(strides[1]) * _FIR_BLOCK
    J = -(-(K + s * (P - 1)) // S)
    # W[p, c, j] = h[S j + c - s p]: output p of a block reads input phase c at block offset j
    tap = S * np.arange(J)[None, None, :] + np.arange(S)[None, :, None] - s * np.arange(P)[:, None, None]
    W = np.where((tap >= 0) & (tap < K), h[np.clip(tap, 0, K - 1)], 0.0).astype(np.float32)
    consts[wname + "::polyphase"] = W
    bname = node.inputs[2] if len(node.inputs) > 2 and node.inputs[2] else None

    def fir(x, wp, b=None):
        n, length = x.shape[0], x.shape[-1]
        n_out = (length - K) // s + 1
        blocks = -(-n_out // P)
        need = (blocks + J - 1) * S
        flat = x.reshape(n, length)
        flat = F.pad(flat, (0, need - length)) if need > length else flat[:, :need]
        y = F.conv1d(flat.reshape(n, -1, S).transpose(1, 2), wp,
                     None if b is None else b.expand(P).contiguous())     # [n, P, blocks]
        return y.transpose(1, 2).reshape(n, 1, 1, blocks * P)[..., :n_out]
    return fir, [node.inputs[0], wname + "::polyphase"] + ([bname] if bname else [])


@_op("ReduceSum", "ReduceMin", "ReduceMax")
def _build_reduce(node, consts):
    axes = node.attrs.get("axes") or _const(node, consts, 1)
    keep = bool(node.attrs.get("keepdims", 1))
    if not axes and node.attrs.get("noop_with_empty_axes", 0):
        return (lambda x: x), node.inputs[:1]
    fn = {"ReduceSum": torch.sum, "ReduceMin": torch.amin, "ReduceMax": torch.amax}[node.op_type]

    def reduce(x):
        return fn(x, dim=tuple(axes) if axes else tuple(range(x.dim())), keepdim=keep)
    return reduce, node.inputs[:1]


# ---------------------------------------------------------------------------------------------
# The module
# ---------------------------------------------------------------------------------------------

class OnnxGraph(nn.Module):
    """An ONNX graph as a torch module.

    ``forward(*inputs)`` takes the graph inputs in ``input_names`` order (torch tensors of the
    shapes and dtypes the graph declares) and returns {output name: tensor}.

    ``forward(..., lowp_dtype=None)``: when set (e.g. ``torch.bfloat16``), the spatial 2-D
    convolutions (kernels wider than 1 along both axes: the learned layers of a CNN, not the
    (1, n) filter banks of a front end such as basic-pitch's CQT) run in that dtype, their
    result cast back to float32; everything else stays as the graph stores it.
    """

    def __init__(self, graph: OnnxGraphDef):
        super().__init__()
        if graph.opset and not 11 <= graph.opset <= 17:
            raise ModelError(f"ONNX opset {graph.opset} is untested (11..17 are supported)")
        self.input_names, self.output_names = list(graph.inputs), list(graph.outputs)
        consts = dict(graph.initializers)      # builders may add derived constants
        self._steps: list[tuple[Step, list[str], list[str], list[str]]] = []
        self._spatial: set[int] = set()
        last_use: dict[str, int] = {}
        for k, node in enumerate(graph.nodes):
            if node.domain not in ("", "ai.onnx") or node.op_type not in _BUILDERS:
                raise ModelError(f"ONNX op {node.domain}:{node.op_type} is not supported")
            fn, args = _BUILDERS[node.op_type](node, consts)
            self._steps.append((fn, args, node.outputs, []))
            if node.op_type == "Conv" and node.inputs[1] in consts:
                shape = consts[node.inputs[1]].shape[2:]
                if len(shape) == 2 and min(shape) > 1:
                    self._spatial.add(k)
            for a in args:
                last_use[a] = k
        self._buffer_of: dict[str, str] = {}
        self._cpu_consts: dict[str, torch.Tensor] = {}
        for i, name in enumerate(n for n in consts if n in last_use):
            t = torch.from_numpy(np.array(consts[name]))
            if t.is_floating_point():
                self.register_buffer(f"const_{i}", t)
                self._buffer_of[name] = f"const_{i}"
            else:
                self._cpu_consts[name] = t
        for name, k in last_use.items():
            if name not in consts and name not in self.output_names:
                self._steps[k][3].append(name)

    def forward(self, *inputs: torch.Tensor, lowp_dtype: torch.dtype | None = None
                ) -> dict[str, torch.Tensor]:
        if len(inputs) != len(self.input_names):
            raise ValueError(f"expected {len(self.input_names)} inputs, got {len(inputs)}")
        env: dict[str, torch.Tensor] = dict(self._cpu_consts)
        env.update((n, getattr(self, b)) for n, b in self._buffer_of.items())
        env.update(zip(self.input_names, inputs))
        lowp = lowp_dtype
        for k, (fn, args, outs, free) in enumerate(self._steps):
            if lowp is not None and k in self._spatial:
                result = fn(*[env[a].to(lowp) for a in args]).float()
            else:
                result = fn(*[env[a] for a in args])
            if len(outs) == 1:
                env[outs[0]] = result
            else:
                env.update(zip(outs, result))
            for name in free:
                del env[name]
        return {n: env[n] for n in self.output_names}


def load_onnx_graph(path: str | Path) -> OnnxGraph:
    """Read an ONNX file into an ``OnnxGraph`` in eval mode, without gradients."""
    module = OnnxGraph(read_onnx(path)).eval()
    module.requires_grad_(False)
    return module
