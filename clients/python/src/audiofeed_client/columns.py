"""The columns a batch request streams, predicted from the dataset's metadata.

``GET /v1/datasets/{id}`` gives ``audio_input_shape``, ``audio_classes``, ``class_mode``
and ``settings.dtype``; the batch request's own ``class_mode``, ``dtype``, ``class_weight``
and ``sample_weight_id`` override or add to them. This is what a framework needs before
the first batch arrives (``tf.data``'s ``output_signature``). numpy only.
"""
import collections

import numpy as np

Column = collections.namedtuple("Column", "name shape dtype")
Column.__doc__ = "One array of every batch: ``shape`` starts with None (the batch's rows); ``dtype`` is a numpy dtype."

_CLASS_MODES = ("categorical", "binary", "sparse", "input", "none")


def batch_columns(info, class_mode=None, dtype=None, class_weight=False, sample_weight_id=None):
    """Columns of a batch, in the order of ``X-Audiofeed-Columns``.

    ``x``: ``(None, *audio_input_shape)`` in ``dtype``; ``y`` by class mode: categorical
    ``(None, K)``, binary and sparse ``(None,)``, input like ``x``, none absent, in the same
    dtype as ``x``; ``sample_weight``: ``(None,)`` float32 with class_weight or
    sample_weight_id.
    """
    mode = info.get("class_mode") if class_mode is None else class_mode
    mode = "none" if mode is None else mode
    if mode not in _CLASS_MODES:
        raise ValueError("class_mode must be one of {}, got {!r}".format(", ".join(_CLASS_MODES), mode))
    settings = info.get("settings") or {}
    dt = np.dtype(dtype or settings.get("dtype") or "float32")
    x_shape = (None,) + tuple(int(d) for d in info["audio_input_shape"])
    columns = [Column("x", x_shape, dt)]
    if mode == "categorical":
        columns.append(Column("y", (None, len(info["audio_classes"])), dt))
    elif mode in ("binary", "sparse"):
        columns.append(Column("y", (None,), dt))
    elif mode == "input":
        columns.append(Column("y", x_shape, dt))
    if class_weight or sample_weight_id:
        columns.append(Column("sample_weight", (None,), np.dtype("float32")))
    return tuple(columns)
