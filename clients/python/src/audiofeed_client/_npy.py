"""Reading one batch of the npy stream, checked against the response headers before allocating.

``numpy.lib.format.read_array`` allocates whatever an array's header claims before it reads a
byte of data: a header saying 10^12 elements is a MemoryError (or the machine swapping). Here
each array's header is read first and checked against what the response announced
(``X-Audiofeed-Columns``, ``-X-Shape``, ``-Dtype``) and against ``max_batch_bytes`` for the
whole batch; only then is the array allocated and filled from the stream.
"""
import json

import numpy as np
from numpy.lib import format as npformat

from .errors import BatchTooLargeError, ProtocolError

_DTYPES = {"float32": np.dtype("float32"), "int8": np.dtype("int8"), "uint16": np.dtype("uint16")}
_COLUMNS = ("x", "y", "sample_weight")
_CHUNK = 1 << 20


class BatchLayout:
    """What a batch response announced: its columns, x's per-row shape and the feature dtype."""

    def __init__(self, columns, x_shape, dtype):
        self.columns = columns
        self.x_shape = x_shape
        self.dtype = dtype

    @classmethod
    def from_headers(cls, headers):
        """From X-Audiofeed-Columns, -X-Shape and -Dtype; malformed or missing ones raise ProtocolError."""
        raw_columns = headers.get("X-Audiofeed-Columns")
        columns = tuple(c.strip() for c in (raw_columns or "x,y").split(",") if c.strip())
        if not columns or columns[0] != "x" or len(set(columns)) != len(columns) or any(c not in _COLUMNS for c in columns):
            raise ProtocolError("X-Audiofeed-Columns {!r} is not x[,y][,sample_weight]".format(raw_columns))
        raw_shape = headers.get("X-Audiofeed-X-Shape")
        try:
            x_shape = json.loads(raw_shape) if raw_shape else None
        except ValueError:
            x_shape = None
        if (
            not isinstance(x_shape, list)
            or not 1 <= len(x_shape) <= 8
            or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in x_shape)
        ):
            raise ProtocolError("X-Audiofeed-X-Shape {!r} is not a list of positive integers".format(raw_shape))
        raw_dtype = (headers.get("X-Audiofeed-Dtype") or "").strip()
        if raw_dtype not in _DTYPES:
            raise ProtocolError("X-Audiofeed-Dtype {!r} is not one of {}".format(raw_dtype, ", ".join(_DTYPES)))
        return cls(columns, tuple(x_shape), raw_dtype)


def _same_dtype(got, want):
    # Byte order aside: numpy converts nothing, the values are the service's.
    return got.kind == want.kind and got.itemsize == want.itemsize and not got.hasobject


def _check(name, shape, dtype, layout, rows, x_shape):
    """Raises ProtocolError if array ``name`` of the batch does not fit what was announced."""
    feature = _DTYPES[layout.dtype]
    where = "column {!r}".format(name)
    if name == "x":
        if shape[1:] != layout.x_shape or len(shape) != len(layout.x_shape) + 1:
            raise ProtocolError("{} has shape {}, the response announced (rows, *{})".format(where, shape, list(layout.x_shape)))
        if not _same_dtype(dtype, feature):
            raise ProtocolError("{} has dtype {}, the response announced {}".format(where, dtype, layout.dtype))
        return
    if not shape or shape[0] != rows:
        raise ProtocolError("{} has shape {}, x has {} rows".format(where, shape, rows))
    if name == "y":
        # categorical (rows, K), binary/sparse (rows,), input: like x; always the feature dtype.
        if not (len(shape) == 1 or (len(shape) == 2 and shape[1] >= 1) or shape == x_shape):
            raise ProtocolError("{} has shape {}: not labels of {} rows".format(where, shape, rows))
        if not _same_dtype(dtype, feature):
            raise ProtocolError("{} has dtype {}, the response announced {}".format(where, dtype, layout.dtype))
    elif name == "sample_weight":
        if len(shape) != 1 or not _same_dtype(dtype, np.dtype("float32")):
            raise ProtocolError("{} is {} {}, expected ({},) float32".format(where, shape, dtype, rows))


def _read_header(fp):
    """(shape, fortran_order, dtype) of the next array; ValueError (as numpy's) at EOF."""
    version = npformat.read_magic(fp)
    if version == (1, 0):
        return npformat.read_array_header_1_0(fp)
    if version == (2, 0):
        return npformat.read_array_header_2_0(fp)
    raise ProtocolError("npy format version {} is not one the service writes".format(version))


def _fill(fp, array):
    """Reads the array's bytes from ``fp`` into it; ValueError("EOF: ...") when they stop."""
    view = memoryview(array.T if array.flags.f_contiguous and not array.flags.c_contiguous else array).cast("B")
    size = len(view)
    pos = 0
    while pos < size:
        chunk = fp.read(min(_CHUNK, size - pos))
        if not chunk:
            raise ValueError("EOF: reading array data, expected {} bytes got {}".format(size, pos))
        view[pos : pos + len(chunk)] = chunk
        pos += len(chunk)


def read_batch(fp, layout, max_batch_bytes):
    """The arrays of one batch, in column order, each checked before it is allocated.

    ValueError / EOFError / network errors mean the stream was cut (the caller's
    IncompleteStreamError); ProtocolError and BatchTooLargeError that it is not to be trusted.
    """
    arrays = []
    total = 0
    rows = None
    x_shape = None
    for name in layout.columns:
        shape, fortran_order, dtype = _read_header(fp)
        if dtype.hasobject:
            raise ProtocolError("column {!r} holds Python objects ({}): refused".format(name, dtype))
        if name == "x":
            rows = shape[0] if shape else None
        _check(name, shape, dtype, layout, rows, x_shape)
        if name == "x":
            x_shape = shape
        count = 1
        for d in shape:
            count *= d  # Python ints: no overflow, whatever the header says
        total += count * dtype.itemsize
        if total > max_batch_bytes:
            raise BatchTooLargeError(total, max_batch_bytes)
        array = np.empty(shape, dtype=dtype, order="F" if fortran_order else "C")
        _fill(fp, array)
        arrays.append(array)
    return tuple(arrays)
