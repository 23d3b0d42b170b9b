/**
 * Class counts of every loaded subset in one SVG bar chart: per class (in class order) one
 * bar per subset side by side, on one shared axis, each bar's count written above it and
 * the class name below the group; a baseline and a few gridlines. The chart is an image to
 * assistive technology, with a text alternative listing every count (the per-class table
 * beside it repeats them as text).
 */
import { own } from './dom.ts';

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Bar geometry, exported for the legend and the tests' arithmetic. */
export const PLOT_HEIGHT = 160;

function el<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number> = {}, text?: string): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Round step for about four gridlines up to `max`. */
function gridStep(max: number): number {
  const raw = Math.max(1, max / 4);
  const pow = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * pow >= raw) return m * pow;
  return 10 * pow;
}

export function classCountChart(
  classes: readonly string[],
  counts: Readonly<Record<string, Readonly<Record<string, number>>>>,
  subsets: readonly string[],
): SVGSVGElement {
  const values = subsets.map((s) => classes.map((c) => own(counts[s], c) ?? 0));
  const max = Math.max(1, ...values.flat());
  const barW = subsets.length > 1 ? 24 : 36;
  const groupGap = 22;
  const groupW = subsets.length * barW + groupGap;
  const left = 44;
  const top = 22;
  const bottom = 30;
  const width = left + classes.length * groupW + groupGap / 2;
  const height = top + PLOT_HEIGHT + bottom;
  const totals = values.map((v) => v.reduce((a, b) => a + b, 0));

  const svg = el('svg', {
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    role: 'img',
    'aria-labelledby': 'chart-title chart-desc',
    // Many classes: drawn at full size in a scrolling box rather than shrunk past reading.
    class: classes.length > 12 ? 'chart chart-wide' : 'chart',
  });
  svg.append(
    el('title', { id: 'chart-title' }, `Class counts: ${subsets.map((s, i) => `${s} ${totals[i]} samples`).join(', ')}`),
    el('desc', { id: 'chart-desc' }, subsets.map((s, i) => `${s}: ${classes.map((c, j) => `${c} ${values[i]![j]}`).join(', ')}`).join('. ')),
  );

  const step = gridStep(max);
  const y = (v: number) => top + PLOT_HEIGHT - (v / max) * PLOT_HEIGHT;
  for (let v = 0; v <= max; v += step) {
    svg.append(el('line', { x1: left, x2: width, y1: y(v), y2: y(v), class: v === 0 ? 'axis' : 'grid' }));
    svg.append(el('text', { x: left - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'tick' }, String(v)));
  }
  classes.forEach((c, j) => {
    const x0 = left + groupGap / 2 + j * groupW;
    subsets.forEach((s, i) => {
      const v = values[i]![j]!;
      const x = x0 + i * barW;
      const g = el('g', { class: 'bar-group', 'data-class': c, 'data-subset': s });
      g.append(
        el('rect', { x: x + 1, y: y(v), width: barW - 2, height: (v / max) * PLOT_HEIGHT, class: `bar bar-${i}`, 'data-count': v }),
        el('text', { x: x + barW / 2, y: y(v) - 5, 'text-anchor': 'middle', class: 'count' }, String(v)),
      );
      svg.append(g);
    });
    const label = el('text', { x: x0 + (subsets.length * barW) / 2, y: top + PLOT_HEIGHT + 18, 'text-anchor': 'middle', class: 'label' }, c.length > 10 ? `${c.slice(0, 9)}…` : c);
    if (c.length > 10) label.append(el('title', {}, c));
    svg.append(label);
  });
  return svg;
}
