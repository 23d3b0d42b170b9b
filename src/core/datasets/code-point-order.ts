/**
 * Python string order (by Unicode code point), spec §3 / Q-06. JavaScript's default
 * comparison works on UTF-16 code units, which puts supplementary-plane characters
 * (surrogate pairs, 0xD800–0xDFFF) before BMP characters 0xE000–0xFFFF.
 */

/** Remaps a UTF-16 unit so that unit order equals code-point order. */
function rank(unit: number): number {
  if (unit < 0xd800) return unit;
  return unit >= 0xe000 ? unit - 0x800 : unit + 0x2000;
}

export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return rank(x) - rank(y);
  }
  return a.length - b.length;
}

const SURROGATE = /[\ud800-\udfff]/;

/** Sorts in place by code point; uses the engine's native sort when no string needs the fix-up. */
export function sortByCodePoint(items: string[]): string[] {
  if (items.some((s) => SURROGATE.test(s))) return items.sort(compareCodePoints);
  // Without surrogates, UTF-16 unit order is code-point order.
  return items.sort();
}
