"""A minimal reader of ONNX files (protobuf ``ModelProto``), written here so that loading an
ONNX graph needs neither the ``onnx`` package nor ``protobuf`` (neither is a dependency of the
Workstation).

``read_onnx(path)`` keeps what inference needs: the nodes (op type, inputs, outputs,
attributes), the initializers as numpy arrays, the graph's input and output names and the
default-domain opset. Tensors stored outside the file (``external_data``) are not supported.
``workstation.inference.onnx_graph`` runs what it returns.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from workstation.core.errors import ModelError

# ---------------------------------------------------------------------------------------------
# Minimal protobuf reader for ONNX files
# ---------------------------------------------------------------------------------------------

#: ONNX TensorProto.DataType -> numpy dtype (the ones an inference graph plausibly stores).
_NP_DTYPES: dict[int, Any] = {1: np.float32, 2: np.uint8, 3: np.int8, 5: np.int16, 6: np.int32,
                              7: np.int64, 9: np.bool_, 10: np.float16, 11: np.float64}
def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    """Decode a base-128 varint at ``buf[pos]`` -> (value as unsigned int, next position)."""
    value = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7


def _signed(v: int) -> int:
    """Unsigned 64-bit varint -> two's-complement int64."""
    return v - (1 << 64) if v >= 1 << 63 else v


def _fields(buf: bytes) -> list[tuple[int, int, Any]]:
    """Split one protobuf message into [(field number, wire type, value)]: value is an int for
    varint / fixed64 / fixed32 fields (raw bits) and ``bytes`` for length-delimited ones."""
    out, pos, n = [], 0, len(buf)
    while pos < n:
        key, pos = _varint(buf, pos)
        num, wire = key >> 3, key & 7
        if wire == 0:
            val, pos = _varint(buf, pos)
        elif wire == 1:
            val, pos = int.from_bytes(buf[pos:pos + 8], "little"), pos + 8
        elif wire == 2:
            size, pos = _varint(buf, pos)
            val, pos = bytes(buf[pos:pos + size]), pos + size
        elif wire == 5:
            val, pos = int.from_bytes(buf[pos:pos + 4], "little"), pos + 4
        else:
            raise ModelError(f"ONNX file: unsupported protobuf wire type {wire}")
        out.append((num, wire, val))
    return out


def _ints(fields: list, num: int) -> list[int]:
    """Repeated int64 field ``num``, packed or not."""
    vals: list[int] = []
    for f, wire, v in fields:
        if f != num:
            continue
        if wire == 2:
            pos = 0
            while pos < len(v):
                x, pos = _varint(v, pos)
                vals.append(_signed(x))
        else:
            vals.append(_signed(v))
    return vals


def _floats(fields: list, num: int) -> list[float]:
    """Repeated float field ``num``, packed or not."""
    vals: list[float] = []
    for f, wire, v in fields:
        if f == num:
            vals.extend(struct.unpack(f"<{len(v) // 4}f", v) if wire == 2
                        else struct.unpack("<f", v.to_bytes(4, "little")))
    return vals


def _string(fields: list, num: int, default: str = "") -> str:
    vals = [v for f, _, v in fields if f == num]
    return vals[-1].decode("utf-8") if vals else default


def _tensor(buf: bytes) -> tuple[str, np.ndarray]:
    """TensorProto -> (name, numpy array)."""
    fl = _fields(buf)
    dims = _ints(fl, 1)
    dtype = next((v for f, _, v in fl if f == 2), 0)
    if dtype not in _NP_DTYPES:
        raise ModelError(f"ONNX file: unsupported tensor data type {dtype}")
    if any(f == 13 for f, _, _ in fl) or any(f == 14 and v == 1 for f, _, v in fl):
        raise ModelError("ONNX file: tensors stored outside the file are not supported")
    np_dtype = np.dtype(_NP_DTYPES[dtype])
    raw = [v for f, _, v in fl if f == 9]
    if raw:
        arr = np.frombuffer(raw[-1], dtype=np_dtype.newbyteorder("<")).astype(np_dtype)
    elif dtype == 1:
        arr = np.asarray(_floats(fl, 4), np.float32)
    elif dtype == 7:
        arr = np.asarray(_ints(fl, 7), np.int64)
    elif dtype == 11:
        arr = np.asarray([struct.unpack("<d", v.to_bytes(8, "little"))[0]
                          for f, _, v in fl if f == 10], np.float64)
    else:   # int32_data holds int32 / int16 / int8 / uint8 / bool (and float16 bits)
        arr = np.asarray(_ints(fl, 5), np.int64).astype(np_dtype)
    return _string(fl, 8), arr.reshape(dims).copy()


def _attribute(buf: bytes) -> tuple[str, Any]:
    """AttributeProto -> (name, value): float, int, str, ndarray, or a list of those."""
    fl = _fields(buf)
    name, kind = _string(fl, 1), next((v for f, _, v in fl if f == 20), 0)
    one = {f: v for f, _, v in fl}
    if kind == 1:
        return name, struct.unpack("<f", one.get(2, 0).to_bytes(4, "little"))[0]
    if kind == 2:
        return name, _signed(one.get(3, 0))
    if kind == 3:
        return name, one.get(4, b"").decode("utf-8")
    if kind == 4:
        return name, _tensor(one[5])[1]
    if kind == 6:
        return name, _floats(fl, 7)
    if kind == 7:
        return name, _ints(fl, 8)
    if kind == 8:
        return name, [v.decode("utf-8") for f, _, v in fl if f == 9]
    raise ModelError(f"ONNX file: unsupported attribute type {kind} ({name!r})")


@dataclass
class OnnxNode:
    """One graph node: ``op_type``, input / output value names ('' = omitted optional input)."""
    op_type: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, Any] = field(default_factory=dict)
    name: str = ""
    domain: str = ""


@dataclass
class OnnxGraphDef:
    """What inference needs from a ModelProto."""
    nodes: list[OnnxNode]
    initializers: dict[str, np.ndarray]
    inputs: list[str]
    outputs: list[str]
    opset: int


def read_onnx(path: str | Path) -> OnnxGraphDef:
    """Read an ONNX model file -> ``OnnxGraphDef`` (no ``onnx`` package needed)."""
    try:
        buf = Path(path).read_bytes()
        model = _fields(buf)
        graph = _fields(next(v for f, _, v in model if f == 7))
    except (OSError, StopIteration, IndexError) as exc:
        raise ModelError(f"{path}: cannot read ONNX model ({exc or 'no graph'})") from exc
    opset = 0
    for f, _, v in model:
        if f == 8:
            op = _fields(v)
            if _string(op, 1) in ("", "ai.onnx"):
                opset = next((x for g, _, x in op if g == 2), 0)
    inits = dict(_tensor(v) for f, _, v in graph if f == 5)
    if any(f == 15 for f, _, _ in graph):
        raise ModelError(f"{path}: sparse initializers are not supported")
    nodes = []
    for f, _, v in graph:
        if f == 1:
            nf = _fields(v)
            nodes.append(OnnxNode(
                op_type=_string(nf, 4), name=_string(nf, 3), domain=_string(nf, 7),
                inputs=[x.decode("utf-8") for g, _, x in nf if g == 1],
                outputs=[x.decode("utf-8") for g, _, x in nf if g == 2],
                attrs=dict(_attribute(x) for g, _, x in nf if g == 5)))
    names = [[_string(_fields(v), 1) for f, _, v in graph if f == num] for num in (11, 12)]
    return OnnxGraphDef(nodes=nodes, initializers=inits, opset=int(opset),
                        inputs=[n for n in names[0] if n not in inits], outputs=names[1])
