"""Plain data between the judge and the student process: numbers, strings, lists, dicts and
numeric arrays, as length-prefixed JSON frames (arrays as base64). No pickle, no objects.

Decoding is defensive because the student process controls the bytes: nesting depth, element
counts and byte sizes are checked before anything is allocated, and every failure is a
CodecError (never RecursionError, MemoryError or a hang)."""
from __future__ import annotations

import base64
import json
import struct

import numpy as np

MAX_DEPTH = 8
MAX_FRAME_BYTES = 128 * 1024 * 1024       # one answer
MAX_ELEMENTS = 32 * 1024 * 1024           # all array elements of one answer


class CodecError(ValueError):
    """Not plain data, or a frame that breaks the limits."""


def plain(value, depth: int = 0):
    """Convert a result to plain data; anything else is refused."""
    import torch
    if depth > MAX_DEPTH:
        raise CodecError("result nested too deeply")
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        value = (value.float() if value.dtype in (torch.float16, torch.bfloat16) else value).numpy()
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            raise CodecError(f"array of dtype {value.dtype} is not numeric")
        return value.item() if value.ndim == 0 else np.array(value)
    if isinstance(value, np.generic):
        value = value.item()
    if type(value) in (bool, int, float, str) or value is None:
        return value
    if type(value) in (list, tuple):
        return [plain(v, depth + 1) for v in value]
    if type(value) is dict:
        return {str(k): plain(v, depth + 1) for k, v in value.items()}
    raise CodecError(f"expected plain data, got {type(value).__name__}")


def encode(value):
    if isinstance(value, np.ndarray):
        return {"__array__": base64.b64encode(np.ascontiguousarray(value).tobytes()).decode(),
                "dtype": value.dtype.str, "shape": list(value.shape)}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {k: encode(v) for k, v in value.items()}
    return value


def decode(value, depth: int = 0, budget: list[int] | None = None):
    """Rebuild plain data, validating every type and size before allocating."""
    budget = [MAX_ELEMENTS] if budget is None else budget
    if depth > MAX_DEPTH + 2:
        raise CodecError("answer nested too deeply")
    if isinstance(value, dict) and "__array__" in value:
        try:
            dtype = np.dtype(value["dtype"])
            shape = [int(s) for s in value["shape"]]
            data = value["__array__"]
        except (TypeError, ValueError, KeyError) as exc:
            raise CodecError(f"malformed array: {exc}") from None
        if dtype.kind not in "biuf" or dtype.itemsize > 8 or not isinstance(data, str):
            raise CodecError("array is not numeric")
        if len(shape) > 8 or any(s < 0 for s in shape):
            raise CodecError(f"array shape {shape[:9]} is not valid")
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        budget[0] -= count
        if budget[0] < 0 or count * dtype.itemsize != len(data) * 3 // 4 - data[-2:].count("="):
            raise CodecError(f"array of shape {shape} does not match its data or is too large")
        try:
            raw = base64.b64decode(data, validate=True)
        except ValueError:
            raise CodecError("array data is not base64") from None
        if len(raw) != count * dtype.itemsize:
            raise CodecError(f"array of shape {shape} does not match its data")
        return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
    if isinstance(value, list):
        return [decode(v, depth + 1, budget) for v in value]
    if isinstance(value, dict):
        return {str(k): decode(v, depth + 1, budget) for k, v in value.items()}
    if type(value) in (bool, int, float, str) or value is None:
        return value
    raise CodecError(f"value of type {type(value).__name__}")


def dumps(message: dict) -> bytes:
    body = json.dumps(message).encode()
    return struct.pack(">Q", len(body)) + body


def loads(body: bytes) -> dict:
    try:
        message = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise CodecError(f"unreadable answer: {type(exc).__name__}") from None
    if not isinstance(message, dict):
        raise CodecError("unreadable answer: not an object")
    return message
