/**
 * The deterministic math library (src/core/math/detmath.ts and native/detmath.cc):
 * the two twins give the same bits on more than a million inputs, edge cases included;
 * the results are within a stated ulp bound of Math.* and of a 200-bit reference; the
 * constants are what exact integer arithmetic says they are.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as dm from '../../src/core/math/detmath.ts';
import { DETMATH_CONSTANTS, TWO_OVER_PI_WORDS } from '../../src/core/math/detmath.ts';
import { requireNative } from '../helpers/native.ts';
import { mulberry32 } from '../helpers/random.ts';

type Fn = 'sin' | 'cos' | 'exp' | 'exp2' | 'log' | 'log10';
const FNS: Record<Fn, { ts: (x: number) => number; ref: (x: number) => number; ulps: number }> = {
  sin: { ts: dm.sin, ref: Math.sin, ulps: 1 },
  cos: { ts: dm.cos, ref: Math.cos, ulps: 1 },
  exp: { ts: dm.exp, ref: Math.exp, ulps: 1 },
  exp2: { ts: dm.exp2, ref: (x) => 2 ** x, ulps: 1 },
  log: { ts: dm.log, ref: Math.log, ulps: 1 },
  // V8's Math.log10 is itself off by up to ~1.8 ulp (see the 200-bit test below).
  log10: { ts: dm.log10, ref: Math.log10, ulps: 2 },
};

const F = new Float64Array(1);
const B = new BigInt64Array(F.buffer);
/** Doubles as ordered integers, so that ulp distance is a subtraction. */
function ordinal(x: number): bigint {
  F[0] = x;
  const v = B[0]!;
  return v < 0n ? -(v & 0x7fffffffffffffffn) : v;
}
function ulpDistance(a: number, b: number): number {
  return Number(ordinal(a) - ordinal(b));
}

const PIO2 = Math.PI / 2;
const TINY = [0, -0, 5e-324, -5e-324, 2.2250738585072014e-308, -2.2250738585072014e-308, 1e-300, 2 ** -27, 2 ** -28, 7.450580596923828e-9];
const SPECIAL = [NaN, Infinity, -Infinity, Number.MAX_VALUE, -Number.MAX_VALUE, 1, -1, 0.5, 2];

/** Inputs per function: random spreads over the ranges that matter, and edge cases. */
function inputsFor(fn: Fn, rand: () => number): Float64Array {
  const xs: number[] = [...TINY, ...SPECIAL];
  const n = 200_000;
  if (fn === 'sin' || fn === 'cos') {
    for (let k = -2000; k <= 2000; k++) xs.push(k * PIO2, k * PIO2 + 1e-12, k * PIO2 * (1 + 2 ** -52));
    for (let k = 0; k < 2000; k++) xs.push(Math.floor(rand() * 2 ** 30) * PIO2); // multiples of π/2 far out
    for (const b of [PIO2 / 2, 1048576, 2 ** 52, 2 ** 53, 2 ** 1023]) for (let d = -3; d <= 3; d++) xs.push(b * (1 + d * 2 ** -52), -b * (1 + d * 2 ** -52));
    for (let i = 0; i < n; i++) {
      const r = rand();
      if (r < 0.5) xs.push((rand() - 0.5) * 20);
      else if (r < 0.8) xs.push((rand() - 0.5) * 2 ** 21);
      else if (r < 0.95) xs.push((rand() - 0.5) * 1e-3);
      else xs.push((rand() < 0.5 ? -1 : 1) * 10 ** (rand() * 308)); // huge: Payne–Hanek
    }
  } else if (fn === 'exp' || fn === 'exp2') {
    const [lo, hi] = fn === 'exp' ? [-745.2, 709.8] : [-1080, 1024];
    for (const b of [709.782712893384, 709.7827128933841, -745.1332191019411, -745.1332191019412, -708.4, 1024, 1023.99, -1074, -1075, -1022.5]) {
      xs.push(b, b + 1e-10, b - 1e-10);
    }
    for (let i = -1100; i <= 1100; i++) xs.push(i, i + 0.5, i / 12);
    for (let i = 0; i < n; i++) {
      const r = rand();
      xs.push(r < 0.6 ? lo + (hi - lo) * rand() : r < 0.9 ? (rand() - 0.5) * 4 : (rand() - 0.5) * 1e-12);
    }
  } else {
    for (let e = -1074; e <= 1023; e++) xs.push(2 ** e, 2 ** e * 1.4142135623730951, 2 ** e * 0.7071067811865476);
    for (let e = -300; e <= 300; e++) xs.push(Number(`1e${e}`));
    for (let i = 0; i < 1000; i++) xs.push(1 + i * 2 ** -52, 1 - i * 2 ** -53, -i, -1 / (i + 1));
    for (let i = 0; i < n; i++) {
      const r = rand();
      xs.push(r < 0.5 ? 10 ** ((rand() - 0.5) * 616) : r < 0.8 ? 1 + (rand() - 0.5) * 0.8 : rand() * 1e-310);
    }
  }
  return Float64Array.from(xs);
}

test('detmath: TypeScript and native give identical bits on more than a million inputs', () => {
  const native = requireNative();
  const rand = mulberry32(20261206);
  let total = 0;
  for (const fn of Object.keys(FNS) as Fn[]) {
    const xs = inputsFor(fn, rand);
    const got = native.addon.detmath(fn, xs);
    const want = xs.map(FNS[fn].ts);
    const gotBits = new BigUint64Array(got.buffer);
    const wantBits = new BigUint64Array(want.buffer);
    let mismatches = 0;
    let first = '';
    for (let i = 0; i < xs.length; i++) {
      const same = gotBits[i] === wantBits[i] || (Number.isNaN(got[i]) && Number.isNaN(want[i]));
      if (!same) {
        if (mismatches === 0) first = `${fn}(${xs[i]}) native ${got[i]} ts ${want[i]}`;
        mismatches++;
      }
    }
    assert.equal(mismatches, 0, `${mismatches} of ${xs.length} differ; first: ${first}`);
    total += xs.length;
  }
  assert.ok(total > 1_000_000, `${total} inputs`);
});

test('detmath: special values follow Math.*', () => {
  for (const fn of Object.keys(FNS) as Fn[]) {
    for (const x of [NaN, Infinity, -Infinity, 0, -0]) {
      assert.ok(Object.is(FNS[fn].ts(x), FNS[fn].ref(x)), `${fn}(${x}): ${FNS[fn].ts(x)} vs ${FNS[fn].ref(x)}`);
    }
  }
  assert.ok(Object.is(dm.sin(-5e-324), -5e-324));
  assert.ok(Number.isNaN(dm.log(-1)) && Number.isNaN(dm.log10(-1e-300)));
  assert.equal(dm.exp(709.782712893384), Math.exp(709.782712893384)); // largest finite
  assert.equal(dm.exp(710), Infinity);
  assert.equal(dm.exp(-745.1332191019411), 5e-324); // smallest subnormal
  assert.equal(dm.exp(-745.2), 0);
  assert.equal(dm.exp2(-1074), 5e-324);
  assert.equal(dm.exp2(1023), 2 ** 1023);
  assert.equal(dm.exp2(1024), Infinity);
  assert.equal(dm.log(1), 0);
  assert.equal(dm.log10(1), 0);
  assert.equal(dm.log(5e-324), Math.log(5e-324));
});

test('detmath: within the stated ulp bound of Math.* (sin, cos, exp, exp2, log ≤ 1; log10 ≤ 2)', () => {
  const rand = mulberry32(7);
  for (const fn of Object.keys(FNS) as Fn[]) {
    const { ts, ref, ulps } = FNS[fn];
    let worst = 0;
    let at = 0;
    for (const x of inputsFor(fn, rand)) {
      const a = ts(x);
      const b = ref(x);
      if (!Number.isFinite(b) || b === 0) continue;
      const d = Math.abs(ulpDistance(a, b));
      if (d > worst) {
        worst = d;
        at = x;
      }
    }
    assert.ok(worst <= ulps, `${fn}: ${worst} ulp from Math at ${at}`);
  }
});

test('detmath: below 1 ulp of a 200-bit reference (python mpmath) on sampled inputs', (t) => {
  try {
    execFileSync('python3', ['-c', 'import mpmath'], { stdio: 'ignore' });
  } catch {
    assert.fail('python3 with mpmath is needed for this test (Debian: python3-mpmath)');
  }
  const rand = mulberry32(99);
  const lines: string[] = [];
  for (const fn of Object.keys(FNS) as Fn[]) {
    const xs = inputsFor(fn, rand);
    for (let i = 0; i < 1500; i++) {
      const x = xs[Math.floor(rand() * xs.length)]!;
      const y = FNS[fn].ts(x);
      if (Number.isFinite(y) && y !== 0 && Math.abs(y) > 2.2250738585072014e-308) lines.push(`${fn} ${x} ${y}`);
    }
  }
  const script = `
import sys, math, mpmath
mpmath.mp.prec = 200
fns = {'sin': mpmath.sin, 'cos': mpmath.cos, 'exp': mpmath.exp, 'exp2': lambda x: mpmath.power(2, x),
       'log': mpmath.log, 'log10': mpmath.log10}
worst = {}
for line in sys.stdin:
    name, x, y = line.split()
    t = fns[name](mpmath.mpf(float(x)))
    err = abs(float((mpmath.mpf(float(y)) - t) / math.ulp(float(t))))
    worst[name] = max(worst.get(name, 0.0), err)
print(' '.join(f'{k}={v:.3f}' for k, v in sorted(worst.items())))
`;
  const out = execFileSync('python3', ['-c', script], { input: lines.join('\n'), timeout: 240_000 }).toString().trim();
  t.diagnostic(`max error in ulp: ${out}`);
  for (const part of out.split(' ')) {
    const [name, v] = part.split('=');
    assert.ok(Number(v) < 1, `${name}: ${v} ulp`);
  }
});

test('detmath: constants are the roundings of π/2, ln 2, log10 2 and the bits of 2/π', () => {
  // π·2^P by Machin's formula in integers (P = 1400 bits, 40 guard bits).
  const P = 1400n;
  const G = 40n;
  const atanInv = (x: bigint): bigint => {
    const one = 1n << (P + G);
    let term = one / x;
    let sum = 0n;
    for (let n = 1n, sign = 1n; term !== 0n; n += 2n, sign = -sign, term /= x * x) sum += (sign * term) / n;
    return sum;
  };
  const pi = (16n * atanInv(5n) - 4n * atanInv(239n)) >> G; // π·2^P
  // 2/π·2^1280, floored, must be the table.
  const twoOverPi = (1n << (1280n + 1n + P)) / pi;
  const words = Array.from({ length: 40 }, (_, i) => Number((twoOverPi >> BigInt(32 * (39 - i))) & 0xffffffffn));
  assert.deepEqual(words, TWO_OVER_PI_WORDS);
  // Exact value of a double as a rational n / 2^P.
  const scaled = (x: number): bigint => {
    let e = 0;
    let m = Math.abs(x);
    while (!Number.isInteger(m)) {
      m *= 2;
      e++;
    }
    return (BigInt(m) << (P - BigInt(e))) * (x < 0 ? -1n : 1n);
  };
  const c = DETMATH_CONSTANTS;
  const pio2 = pi >> 1n;
  const rest = pio2 - scaled(c.PIO2_1) - scaled(c.PIO2_2) - scaled(c.PIO2_3) - scaled(c.PIO2_4);
  assert.ok(rest < 1n << (P - 150n) && rest > -(1n << (P - 150n)), 'π/2 parts sum to π/2 within 2^-150');
  assert.equal(c.PIO2_HI + c.PIO2_LO, Math.PI / 2);
  const pio2Rest = pio2 - scaled(c.PIO2_HI) - scaled(c.PIO2_LO);
  assert.ok(pio2Rest < 1n << (P - 108n) && pio2Rest > -(1n << (P - 108n)));
  // ln 2 = 2·atanh(1/3), log10 2 = ln 2 / ln 10, ln 10 = 3 ln 2 + 2·atanh(1/9).
  const atanhInv = (x: bigint): bigint => {
    const one = 1n << (P + G);
    let sum = 0n;
    let px = x;
    for (let k = 1n; ; k += 2n, px *= x * x) {
      const t = one / (px * k);
      if (t === 0n) break;
      sum += t;
    }
    return sum;
  };
  const ln2 = (2n * atanhInv(3n)) >> G;
  const ln10 = 3n * ln2 + ((2n * atanhInv(9n)) >> G);
  const near = (a: bigint, b: bigint, bits: bigint): boolean => (a > b ? a - b : b - a) < 1n << (P - bits);
  assert.ok(near(scaled(c.LN2_HI) + scaled(c.LN2_LO), ln2, 85n), 'ln2 in two parts');
  assert.ok(near(scaled(c.LN2) + scaled(c.LN2_TAIL), ln2, 105n), 'ln2 double-double');
  const log10of2 = (ln2 << P) / ln10;
  assert.ok(near(scaled(c.LOG10_2_HI) + scaled(c.LOG10_2_LO), log10of2, 85n), 'log10(2) in two parts');
  // The "hi" parts have trailing zeros, so k·hi is exact for the k the reductions use.
  for (const [v, bits] of [[c.PIO2_1, 33], [c.PIO2_2, 33], [c.PIO2_3, 33], [c.LN2_HI, 32], [c.LOG10_2_HI, 32]] as const) {
    let m = Math.abs(v);
    while (m < 2 ** 52) m *= 2;
    assert.equal(m % 2 ** (53 - bits), 0, `${v} has at most ${bits} significant bits`);
  }
});
