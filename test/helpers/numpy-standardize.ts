/**
 * Reference values from python3 + numpy: MLTK's normalize() (core/preprocess/utils, as the
 * generator calls it with dtype float32) written with MLTK's own numpy expressions, and
 * np.sum. numpy is on every machine this project tests on; without it the calling test
 * fails (never skips).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type { Standardization } from '../../src/core/tensors/standardize.ts';

/** MLTK core/preprocess/utils normalize(), as the generator calls it (dtype float32), and numpy's sum. */
const NUMPY_REFERENCE = String.raw`
import base64, json, sys
import numpy as np

def mltk_normalize(x, rescale, center, std, rng):
    if not (rescale or center or std or rng):
        return x.astype(np.float32)
    x = x.astype(np.float32)
    if rescale:
        x *= rescale
    if center:
        x -= np.mean(x, keepdims=True)
    if std:
        x /= (np.std(x, keepdims=True) + 1e-6)
    if rng:
        lower = float(rng[0]); upper = float(rng[1]); diff = upper - lower
        x = diff * (x - np.min(x)) / np.ptp(x) + lower
    return x.astype(np.float32)

out = []
for case in json.load(sys.stdin):
    x = np.frombuffer(base64.b64decode(case['x']), dtype='<f4').copy().reshape(case['shape'])
    if case['op'] == 'sum':
        r = np.array([np.sum(x)], dtype=np.float32)
    else:
        s = case['settings']
        with np.errstate(all='ignore'):
            r = mltk_normalize(x, s['rescale'], s['samplewise_center'], s['samplewise_std_normalization'], s['samplewise_normalize_range'])
    out.append(base64.b64encode(np.ascontiguousarray(r, dtype='<f4').tobytes()).decode())
json.dump({'numpy': np.__version__, 'out': out}, sys.stdout)
`;

export interface NumpyCase {
  op: 'sum' | 'normalize';
  x: Float32Array;
  shape: number[];
  settings?: Standardization;
}

export function numpy(cases: NumpyCase[]): { version: string; out: Float32Array[] } {
  const input = JSON.stringify(cases.map((c) => ({ ...c, x: Buffer.from(c.x.buffer, c.x.byteOffset, c.x.byteLength).toString('base64') })));
  const r = spawnSync('python3', ['-c', NUMPY_REFERENCE], { input, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (r.error || r.status !== 0) {
    assert.fail(`python3 with numpy is needed for the reference values (${r.error?.message ?? r.stderr.trim()}): install python3-numpy`);
  }
  const doc = JSON.parse(r.stdout) as { numpy: string; out: string[] };
  return {
    version: doc.numpy,
    out: doc.out.map((b) => {
      const buf = Buffer.from(b, 'base64');
      return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
    }),
  };
}

