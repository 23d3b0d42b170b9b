/**
 * Class counts of one subset as an SVG bar chart: one bar per class (in class order),
 * its count written above it and the class name below, a baseline and a few gridlines.
 * The chart is an image to assistive technology, with a text alternative listing every
 * count.
 */
const SVG_NS = 'http://www.w3.org/2000/svg';

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

export function classCountChart(subset: string, classes: readonly string[], counts: Readonly<Record<string, number>>): SVGSVGElement {
  const values = classes.map((c) => counts[c] ?? 0);
  const max = Math.max(1, ...values);
  const barW = 40;
  const gap = 30;
  const left = 40;
  const top = 24;
  const plotH = 160;
  const bottom = 48;
  const width = left + classes.length * (barW + gap) + gap;
  const height = top + plotH + bottom;
  const total = values.reduce((a, b) => a + b, 0);
  const titleId = `chart-${subset}-title`;
  const descId = `chart-${subset}-desc`;

  const svg = el('svg', {
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    role: 'img',
    'aria-labelledby': `${titleId} ${descId}`,
    class: 'chart',
    'data-subset': subset,
  });
  svg.append(
    el('title', { id: titleId }, `Class counts, ${subset} subset (${total} samples)`),
    el('desc', { id: descId }, classes.map((c, i) => `${c}: ${values[i]}`).join(', ')),
  );

  const step = gridStep(max);
  const y = (v: number) => top + plotH - (v / max) * plotH;
  for (let v = 0; v <= max; v += step) {
    svg.append(el('line', { x1: left, x2: width - gap / 2, y1: y(v), y2: y(v), class: v === 0 ? 'axis' : 'grid' }));
    svg.append(el('text', { x: left - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'tick' }, String(v)));
  }
  classes.forEach((c, i) => {
    const x = left + gap + i * (barW + gap);
    const v = values[i]!;
    const g = el('g', { class: 'bar-group', 'data-class': c });
    g.append(
      el('rect', { x, y: y(v), width: barW, height: Math.max(0, (v / max) * plotH), class: 'bar', 'data-count': v }),
      el('text', { x: x + barW / 2, y: y(v) - 6, 'text-anchor': 'middle', class: 'count' }, String(v)),
      el('text', { x: x + barW / 2, y: top + plotH + 18, 'text-anchor': 'middle', class: 'label' }, c.length > 9 ? `${c.slice(0, 8)}…` : c),
    );
    if (c.length > 9) g.append(el('title', {}, c));
    svg.append(g);
  });
  return svg;
}
