/** Python formatting rules that MLTK's logs and summaries rely on (spec §11, §12). */

/** Number of code points, which is what Python's `len` / `rjust` count. */
export function codePointLength(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** `s.rjust(width)`: left-pad with spaces to `width` code points, never truncate. */
export function rjust(s: string, width: number): string {
  const pad = width - codePointLength(s);
  return pad > 0 ? ' '.repeat(pad) + s : s;
}

/**
 * `'%.2f' % x`: the exact binary value rounded half-to-even. `toFixed` also rounds the
 * exact value but breaks exact ties away from zero; at two decimals the only exact ties
 * are odd multiples of 1/8, so only those need the even choice.
 */
export function formatFixed2(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  const negative = x < 0 || Object.is(x, -0);
  const a = Math.abs(x);
  let body: string;
  const eighths = a * 8;
  if (Number.isInteger(eighths) && eighths % 2 === 1 && a < 2 ** 45) {
    const low = Math.floor(a * 100); // exact: a·100 = odd·12.5
    const n = low % 2 === 0 ? low : low + 1;
    const int = Math.floor(n / 100);
    const frac = n - int * 100;
    body = `${int}.${String(frac).padStart(2, '0')}`;
  } else if (a >= 1e21) {
    body = `${BigInt(a)}.00`;
  } else {
    body = a.toFixed(2);
  }
  return negative ? `-${body}` : body;
}

/** Python `repr(float)`: shortest round-trip digits, exponent form outside [1e-4, 1e16). */
export function pyFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const sign = x < 0 ? '-' : '';
  const [mant, expStr] = Math.abs(x).toExponential().split('e') as [string, string];
  const exp = Number(expStr);
  const digits = mant.replace('.', '');
  if (exp >= -4 && exp < 16) {
    let s: string;
    if (exp < 0) s = '0.' + '0'.repeat(-exp - 1) + digits;
    else if (digits.length <= exp + 1) s = digits + '0'.repeat(exp + 1 - digits.length) + '.0';
    else s = digits.slice(0, exp + 1) + '.' + digits.slice(exp + 1);
    return sign + s;
  }
  const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  const e = Math.abs(exp);
  return `${sign}${m}e${exp < 0 ? '-' : '+'}${e < 10 ? '0' : ''}${e}`;
}

/** Python `repr` of a JSON-like scalar (numbers rendered as floats). */
export function pyRepr(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (typeof v === 'number') return pyFloatRepr(v);
  if (typeof v === 'string') {
    const q = v.includes("'") && !v.includes('"') ? '"' : "'";
    const escaped = v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t');
    return q + (q === "'" ? escaped.replace(/'/g, "\\'") : escaped) + q;
  }
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(', ')}]`;
  return String(v);
}
