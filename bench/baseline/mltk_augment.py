#!/usr/bin/env python3
"""MLTK-style augmented epoch, the baseline of bench/augment.ts.

What MLTK's ParallelAudioDataGenerator does per training sample (spec/dataset.md §14),
with the libraries it uses: the WAV read as int16 / 32768, random transform parameters
from numpy's RandomState (reseeded per batch, as MLTK does), librosa
`effects.time_stretch` (speed), `effects.pitch_shift` (pitch, soxr resampling),
`effects.trim`, MLTK's length adjustment with a random offset, loudness, MLTK's
`_get_color_noise` (numpy), int16, then the C microfrontend (native/'s frontend through
a ctypes shim, bench/baseline/frontend_shim.cc, built by the benchmark). Batches are
spread over --processes worker processes (multiprocessing.Pool), as MLTK spreads them
over its worker pool.

Prints one JSON line: {"clips": n, "seconds": s, "clips_per_second": r, "processes": p}.
Start-up (imports, numba compilation, the pool) is not timed.

    python3 mltk_augment.py --lib libaf.so --files list.txt [--processes 2] [--batch-size 32] [--seed 1]
"""
import argparse
import ctypes
import json
import multiprocessing as mp
import sys
import time
import wave

import numpy as np

SAMPLE_RATE = 16000
SAMPLE_LENGTH = 16000
TRIM_DB = 20
# The augmentation bench/augment.ts asks the service for.
OFFSET_RANGE = (0.0, 1.0)
LOUDNESS_RANGE = (0.2, 1.0)
SPEEDS = (0.9, 1.1)  # MLTK's grid of speed_range (0.9, 1.1) without 1.0
PITCH_RANGE = (-2, 2)  # integer steps in [lo, hi)
NOISE_COLORS = ("white", "brown", "blue", "pink", "violet")
NOISE_COLOR_RANGE = (0.0, 0.1)

_lib = None
_fe = None
_shape = None


def _get_color_noise(sample, color, rng):
    """MLTK's ParallelAudioDataGenerator._get_color_noise."""
    sample_length = len(sample)
    uneven = sample_length % 2
    fft_size = sample_length // 2 + 1 + uneven
    noise_fft = rng.randn(fft_size)
    color_noise = np.linspace(1, fft_size, fft_size)
    scale_factor = 1.0
    if color == "pink":
        color_noise = color_noise**-1
        scale_factor = 10.0
    elif color == "brown":
        color_noise = color_noise**-2
        scale_factor = 10.0
    elif color == "blue":
        scale_factor = 0.01
    elif color == "violet":
        color_noise = color_noise**2
        scale_factor = 0.01
    if color != "white":
        noise_fft = noise_fft * color_noise
    if uneven:
        noise_fft = noise_fft[:-1]
    noise = np.fft.irfft(noise_fft)
    noise = np.clip(noise, sample.min(), sample.max()) * scale_factor
    if len(noise) != sample_length:
        padded = np.zeros((sample_length,), dtype=np.float32)
        padded[: len(noise)] = noise[:sample_length]
        noise = padded
    return noise.astype(sample.dtype)


def _adjust_length(sample, offset):
    """MLTK's adjust_length after trim: crop or pad to SAMPLE_LENGTH at a random offset."""
    m = len(sample)
    if m > SAMPLE_LENGTH:
        start = int((m - SAMPLE_LENGTH) * offset)
        return sample[start : start + SAMPLE_LENGTH]
    if m < SAMPLE_LENGTH:
        before = int((SAMPLE_LENGTH - m) * offset)
        return np.pad(sample, (before, SAMPLE_LENGTH - m - before))
    return sample


def _read_wav(path):
    with wave.open(path, "rb") as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return pcm.astype(np.float32) / 32768.0


def _augment(sample, rng):
    import librosa

    offset = rng.uniform(*OFFSET_RANGE)
    loudness = rng.uniform(*LOUDNESS_RANGE)
    color = NOISE_COLORS[rng.randint(0, len(NOISE_COLORS))]
    noise_factor = rng.uniform(*NOISE_COLOR_RANGE)
    speed = SPEEDS[rng.randint(0, len(SPEEDS))]
    pitch = rng.randint(*PITCH_RANGE)
    sample = librosa.effects.time_stretch(sample, rate=speed)
    if pitch != 0:
        sample = librosa.effects.pitch_shift(sample, sr=SAMPLE_RATE, n_steps=pitch)
    trimmed, _ = librosa.effects.trim(sample, top_db=TRIM_DB)
    sample = _adjust_length(trimmed, offset).astype(np.float32)
    sample = sample * loudness
    sample = sample + _get_color_noise(sample, color, rng) * (noise_factor * loudness)
    return sample


def _init(lib_path):
    global _lib, _fe, _shape
    _lib = ctypes.CDLL(lib_path)
    _lib.af_frontend_new.restype = ctypes.c_void_p
    _lib.af_frontend_new.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int)]
    _lib.af_frontend_process.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    frames, channels = ctypes.c_int(), ctypes.c_int()
    _fe = _lib.af_frontend_new(SAMPLE_RATE, 1000, ctypes.byref(frames), ctypes.byref(channels))
    _shape = (frames.value, channels.value)
    # Warm up (imports, numba compilation) before the timed batches.
    _augment(np.sin(np.arange(SAMPLE_LENGTH, dtype=np.float32) / 7.0) * 0.3, np.random.RandomState(0))


def _ready(_):
    time.sleep(0.05)
    return _shape


def _batch(job):
    seed, paths = job
    rng = np.random.RandomState(seed)  # MLTK reseeds numpy per batch
    out = np.empty((len(paths),) + _shape, dtype=np.uint16)
    for i, path in enumerate(paths):
        sample = _augment(_read_wav(path), rng)
        pcm = np.clip(sample * 32768.0, -32768, 32767).astype(np.int16)
        _lib.af_frontend_process(_fe, pcm.ctypes.data, out[i].ctypes.data)
    return len(paths)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lib", required=True)
    ap.add_argument("--files", required=True)
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    # A pool whose initializer fails starts new workers forever: check the libraries here first.
    try:
        import librosa.effects  # noqa: F401  (imports scikit-learn, numba, scipy, soxr as it needs them)
        import soxr  # noqa: F401

        _augment(np.sin(np.arange(SAMPLE_LENGTH, dtype=np.float32) / 7.0) * 0.3, np.random.RandomState(0))
    except Exception as e:  # noqa: BLE001  (any failure means: no baseline on this machine)
        print(json.dumps({"error": f"{type(e).__name__}: {e}"}))
        sys.exit(3)
    with open(a.files) as f:
        paths = [line.strip() for line in f if line.strip()]
    jobs = [(a.seed + b, paths[i : i + a.batch_size]) for b, i in enumerate(range(0, len(paths), a.batch_size))]
    with mp.Pool(a.processes, initializer=_init, initargs=(a.lib,)) as pool:
        pool.map(_ready, range(4 * a.processes), chunksize=1)
        t0 = time.perf_counter()
        clips = sum(pool.imap_unordered(_batch, jobs, chunksize=1))
        seconds = time.perf_counter() - t0
    print(json.dumps({"clips": clips, "seconds": seconds, "clips_per_second": clips / seconds, "processes": a.processes}))


if __name__ == "__main__":
    main()
