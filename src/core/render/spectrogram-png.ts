/**
 * Spectrogram -> PNG, with no native or canvas dependency (pngjs only): time on the x
 * axis (frame 0 at the left), mel channel on the y axis (channel 0 at the bottom),
 * viridis colours, tick marks with numeric labels in a built-in 3x5 bitmap font, and a
 * colour bar labelled with the value range. Used by POST /v1/features, the CLI and the
 * dashboard's sample previews.
 */
import { PNG } from 'pngjs';

export interface SpectrogramPngOptions {
  /** Pixels per cell side (default 4, so a 98x32 spectrogram is 392x128 px of data). */
  scale?: number;
  /** Drawn above the plot; letters, digits and a little punctuation (3x5 font). */
  title?: string;
  /** Value mapped to the bottom colour; default the smallest finite value. */
  min?: number;
  /** Value mapped to the top colour; default the largest finite value. */
  max?: number;
  /** Frame step in ms: when given, x labels are times in ms instead of frame indices. */
  stepMs?: number;
}

/**
 * matplotlib's viridis (CC0), 256 entries of RGB as hex: entry 0 is the colour of the
 * minimum, entry 255 of the maximum.
 */
const VIRIDIS_HEX =
  '44015444025645045745055946075a46085c460a5d460b5e470d60470e61471063471164471365481467481668481769' +
  '48186a481a6c481b6d481c6e481d6f481f70482071482173482374482475482576482677482878482979472a7a472c7a' +
  '472d7b472e7c472f7d46307e46327e46337f463480453581453781453882443983443a83443b84433d84433e85423f85' +
  '4240864241864142874144874045884046883f47883f48893e49893e4a893e4c8a3d4d8a3d4e8a3c4f8a3c508b3b518b' +
  '3b528b3a538b3a548c39558c39568c38588c38598c375a8c375b8d365c8d365d8d355e8d355f8d34608d34618d33628d' +
  '33638d32648e32658e31668e31678e31688e30698e306a8e2f6b8e2f6c8e2e6d8e2e6e8e2e6f8e2d708e2d718e2c718e' +
  '2c728e2c738e2b748e2b758e2a768e2a778e2a788e29798e297a8e297b8e287c8e287d8e277e8e277f8e27808e26818e' +
  '26828e26828e25838e25848e25858e24868e24878e23888e23898e238a8d228b8d228c8d228d8d218e8d218f8d21908d' +
  '21918c20928c20928c20938c1f948c1f958b1f968b1f978b1f988b1f998a1f9a8a1e9b8a1e9c891e9d891f9e891f9f88' +
  '1fa0881fa1881fa1871fa28720a38620a48621a58521a68522a78522a88423a98324aa8325ab8225ac8226ad8127ad81' +
  '28ae8029af7f2ab07f2cb17e2db27d2eb37c2fb47c31b57b32b67a34b67935b77937b87838b9773aba763bbb753dbc74' +
  '3fbc7340bd7242be7144bf7046c06f48c16e4ac16d4cc26c4ec36b50c46a52c56954c56856c66758c7655ac8645cc863' +
  '5ec96260ca6063cb5f65cb5e67cc5c69cd5b6ccd5a6ece5870cf5773d05675d05477d1537ad1517cd2507fd34e81d34d' +
  '84d44b86d54989d5488bd6468ed64590d74393d74195d84098d83e9bd93c9dd93ba0da39a2da37a5db36a8db34aadc32' +
  'addc30b0dd2fb2dd2db5de2bb8de29bade28bddf26c0df25c2df23c5e021c8e020cae11fcde11dd0e11cd2e21bd5e21a' +
  'd8e219dae319dde318dfe318e2e418e5e419e7e419eae51aece51befe51cf1e51df4e61ef6e620f8e621fbe723fde725';

export const VIRIDIS: readonly (readonly [number, number, number])[] = Object.freeze(
  Array.from({ length: 256 }, (_, i) => {
    const at = i * 6;
    return Object.freeze([
      Number.parseInt(VIRIDIS_HEX.slice(at, at + 2), 16),
      Number.parseInt(VIRIDIS_HEX.slice(at + 2, at + 4), 16),
      Number.parseInt(VIRIDIS_HEX.slice(at + 4, at + 6), 16),
    ] as const);
  }),
);

/** Colour of cells whose value is NaN or infinite. */
const INVALID_COLOUR = [128, 128, 128] as const;
const BACKGROUND = [255, 255, 255] as const;
const INK = [32, 32, 32] as const;

/** 3x5 glyphs, one 3-bit row per entry, most significant bit = left column. */
const GLYPHS: Readonly<Record<string, readonly number[]>> = {
  '0': [7, 5, 5, 5, 7], '1': [2, 6, 2, 2, 7], '2': [7, 1, 7, 4, 7], '3': [7, 1, 7, 1, 7],
  '4': [5, 5, 7, 1, 1], '5': [7, 4, 7, 1, 7], '6': [7, 4, 7, 5, 7], '7': [7, 1, 1, 2, 2],
  '8': [7, 5, 7, 5, 7], '9': [7, 5, 7, 1, 7],
  A: [2, 5, 7, 5, 5], B: [6, 5, 6, 5, 6], C: [3, 4, 4, 4, 3], D: [6, 5, 5, 5, 6],
  E: [7, 4, 6, 4, 7], F: [7, 4, 6, 4, 4], G: [3, 4, 5, 5, 3], H: [5, 5, 7, 5, 5],
  I: [7, 2, 2, 2, 7], J: [1, 1, 1, 5, 2], K: [5, 5, 6, 5, 5], L: [4, 4, 4, 4, 7],
  M: [5, 7, 7, 5, 5], N: [6, 5, 5, 5, 5], O: [2, 5, 5, 5, 2], P: [6, 5, 6, 4, 4],
  Q: [2, 5, 5, 6, 3], R: [6, 5, 6, 5, 5], S: [3, 4, 2, 1, 6], T: [7, 2, 2, 2, 2],
  U: [5, 5, 5, 5, 7], V: [5, 5, 5, 5, 2], W: [5, 5, 7, 7, 5], X: [5, 5, 2, 5, 5],
  Y: [5, 5, 2, 2, 2], Z: [7, 1, 2, 4, 7],
  // A small x, so "98x32" reads as a size rather than a word.
  x: [0, 5, 2, 5, 0],
  ' ': [0, 0, 0, 0, 0], '.': [0, 0, 0, 0, 2], ',': [0, 0, 0, 2, 4], '-': [0, 0, 7, 0, 0],
  '+': [0, 2, 7, 2, 0], ':': [0, 2, 0, 2, 0], '/': [1, 1, 2, 4, 4], '(': [1, 2, 2, 2, 1],
  ')': [4, 2, 2, 2, 4], '_': [0, 0, 0, 0, 7], '=': [0, 7, 0, 7, 0], '%': [5, 1, 2, 4, 5],
  '?': [7, 1, 2, 0, 2],
};

function glyphOf(ch: string): readonly number[] {
  return GLYPHS[ch] ?? GLYPHS[ch.toUpperCase()] ?? GLYPHS['?']!;
}

/** Largest accepted image side in pixels: beyond this browsers and viewers refuse PNGs. */
export const MAX_PNG_SIDE = 32768;
/** Largest accepted pixel count (RGBA buffer of 256 MiB). */
export const MAX_PNG_PIXELS = 64 * 1024 * 1024;

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface SpectrogramPngLayout {
  width: number;
  height: number;
  scale: number;
  /** The data cells: frame f, channel c fills x + f*scale, y + (channels-1-c)*scale. */
  plot: Rect;
  colourBar: Rect;
}

class Text {
  readonly px: number;
  constructor(px: number) {
    this.px = px;
  }
  get height(): number {
    return 5 * this.px;
  }
  /** Advance per character: glyph plus one column of spacing. */
  get advance(): number {
    return 4 * this.px;
  }
  width(s: string): number {
    return s.length === 0 ? 0 : s.length * this.advance - this.px;
  }
}

/** Short label for a colour-bar end: integers as is, others with 4 significant digits. */
export function formatValue(v: number): string {
  if (!Number.isFinite(v)) return String(v).toUpperCase().slice(0, 4);
  if (Number.isInteger(v) && Math.abs(v) < 1e7) return String(v);
  const p = Number(v.toPrecision(4));
  const s = String(p);
  return s.length <= 9 ? s.toUpperCase() : p.toExponential(2).toUpperCase();
}

const NICE_STEPS = [1, 2, 5];

/** Smallest 1-2-5 step (in cells) whose spacing leaves room for a label of `need` px. */
function tickStep(cellPx: number, need: number): number {
  for (let decade = 1; ; decade *= 10) {
    for (const m of NICE_STEPS) {
      if (m * decade * cellPx >= need) return m * decade;
    }
  }
}

function checkScale(scale: number): number {
  if (!Number.isInteger(scale) || scale < 1 || scale > 64) {
    throw new RangeError(`scale must be an integer between 1 and 64, got ${scale}`);
  }
  return scale;
}

interface Resolved {
  layout: SpectrogramPngLayout;
  text: Text;
  tick: number;
  minLabel: string;
  maxLabel: string;
  xLabels: { at: number; label: string }[];
  yLabels: { at: number; label: string }[];
  xTitle: string;
  yTitle: string;
  titleY: number;
}

function resolveLayout(frames: number, channels: number, opts: SpectrogramPngOptions, min: number, max: number): Resolved {
  const scale = checkScale(opts.scale ?? 4);
  // Text grows with the cells up to 2x (6x10 px glyphs), enough to read without zooming.
  const text = new Text(scale >= 3 ? 2 : 1);
  const pad = 2 * text.px + 2;
  const tick = 2 * text.px + 1;
  const gap = text.px + 1;
  const plotW = frames * scale;
  const plotH = channels * scale;

  const stepMs = opts.stepMs;
  const xValue = (f: number): number => (stepMs === undefined ? f : f * stepMs);
  const xWidest = text.width(String(xValue(frames - 1)));
  const xStep = tickStep(scale, xWidest + 2 * text.advance);
  const xLabels: { at: number; label: string }[] = [];
  for (let f = 0; f < frames; f += xStep) xLabels.push({ at: f, label: String(xValue(f)) });
  const yStep = tickStep(scale, text.height + 2 * text.px);
  const yLabels: { at: number; label: string }[] = [];
  for (let c = 0; c < channels; c += yStep) yLabels.push({ at: c, label: String(c) });
  const xTitle = stepMs === undefined ? 'FRAME' : 'TIME (MS)';
  const yTitle = 'CH';

  const minLabel = formatValue(min);
  const maxLabel = formatValue(max);
  const yLabelW = Math.max(text.width(String(channels - 1)), text.width(yTitle));
  const left = pad + yLabelW + gap + tick;
  const titleH = opts.title ? text.height + 2 * gap : 0;
  // Room above the plot for the y-axis title and half of the colour bar's max label.
  const top = pad + titleH + text.height + gap;
  const bottom = tick + gap + text.height + 2 * gap + text.height + pad;
  const barGap = 3 * text.advance;
  const barW = Math.max(3 * text.advance, 8);
  const right = barGap + barW + tick + gap + Math.max(text.width(minLabel), text.width(maxLabel)) + pad;
  // Half of the last x label may stick out past the plot's right edge.
  const width = Math.max(left + plotW + right, pad + text.width(opts.title ?? '') + pad, left + plotW + xWidest);
  const height = top + plotH + bottom;
  if (width > MAX_PNG_SIDE || height > MAX_PNG_SIDE || width * height > MAX_PNG_PIXELS) {
    throw new RangeError(
      `a ${frames}x${channels} spectrogram at scale ${scale} needs a ${width}x${height} px image; ` +
        `the limit is ${MAX_PNG_SIDE} px per side and ${MAX_PNG_PIXELS} px in all: lower the scale`,
    );
  }
  return {
    layout: {
      width,
      height,
      scale,
      plot: { x: left, y: top, w: plotW, h: plotH },
      colourBar: { x: left + plotW + barGap, y: top, w: barW, h: plotH },
    },
    text,
    tick,
    minLabel,
    maxLabel,
    xLabels,
    yLabels,
    xTitle,
    yTitle,
    titleY: pad,
  };
}

function checkDims(frames: number, channels: number): void {
  if (!Number.isSafeInteger(frames) || frames < 1 || !Number.isSafeInteger(channels) || channels < 1) {
    throw new RangeError(`spectrogram must have at least one frame and one channel, got ${frames}x${channels}`);
  }
}

/** Where everything goes for these sizes, without drawing (labels assume the default range). */
export function spectrogramPngLayout(
  height: number,
  width: number,
  opts: SpectrogramPngOptions = {},
  range: { min: number; max: number } = { min: opts.min ?? 0, max: opts.max ?? 0 },
): SpectrogramPngLayout {
  checkDims(height, width);
  return resolveLayout(height, width, opts, range.min, range.max).layout;
}

class Canvas {
  readonly png: PNG;
  constructor(width: number, height: number) {
    this.png = new PNG({ width, height });
    const d = this.png.data;
    for (let i = 0; i < d.length; i += 4) {
      d[i] = BACKGROUND[0];
      d[i + 1] = BACKGROUND[1];
      d[i + 2] = BACKGROUND[2];
      d[i + 3] = 255;
    }
  }

  fill(x: number, y: number, w: number, h: number, rgb: readonly number[]): void {
    const { width, height, data } = this.png;
    const x0 = Math.max(0, x);
    const y0 = Math.max(0, y);
    const x1 = Math.min(width, x + w);
    const y1 = Math.min(height, y + h);
    for (let yy = y0; yy < y1; yy++) {
      let i = (yy * width + x0) * 4;
      for (let xx = x0; xx < x1; xx++, i += 4) {
        data[i] = rgb[0]!;
        data[i + 1] = rgb[1]!;
        data[i + 2] = rgb[2]!;
      }
    }
  }

  text(t: Text, s: string, x: number, y: number): void {
    for (let k = 0; k < s.length; k++) {
      const rows = glyphOf(s[k]!);
      const gx = x + k * t.advance;
      for (let r = 0; r < 5; r++) {
        for (let c = 0; c < 3; c++) {
          if (rows[r]! & (4 >> c)) this.fill(gx + c * t.px, y + r * t.px, t.px, t.px, INK);
        }
      }
    }
  }
}

function rangeOf(values: ArrayLike<number>): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (Number.isFinite(v)) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
  }
  return min === Infinity ? { min: 0, max: 0 } : { min, max };
}

/** Colour-map index of v: min -> 0, max -> 255, clamped; a flat range maps to 0. */
export function colourIndex(v: number, min: number, max: number): number {
  if (!(max > min)) return 0;
  const t = (v - min) / (max - min);
  return t <= 0 ? 0 : t >= 1 ? 255 : Math.round(t * 255);
}

/**
 * PNG of a row-major [height][width] spectrogram (`height` frames of `width` channels,
 * as the frontend returns it).
 */
export function renderSpectrogramPng(
  values: ArrayLike<number>,
  height: number,
  width: number,
  opts: SpectrogramPngOptions = {},
): Buffer {
  checkDims(height, width);
  if (values.length !== height * width) {
    throw new RangeError(`expected ${height}x${width} = ${height * width} values, got ${values.length}`);
  }
  if (opts.stepMs !== undefined && !(Number.isFinite(opts.stepMs) && opts.stepMs > 0)) {
    throw new RangeError(`stepMs must be a positive number, got ${opts.stepMs}`);
  }
  const data = rangeOf(values);
  const min = opts.min ?? data.min;
  const max = opts.max ?? data.max;
  if (!Number.isFinite(min) || !Number.isFinite(max) || min > max) {
    throw new RangeError(`min and max must be finite with min <= max, got ${min} and ${max}`);
  }
  const r = resolveLayout(height, width, opts, min, max);
  const { layout, text: t, tick } = r;
  const { plot, colourBar: bar, scale: s } = layout;
  const canvas = new Canvas(layout.width, layout.height);

  for (let f = 0; f < height; f++) {
    for (let c = 0; c < width; c++) {
      const v = values[f * width + c]!;
      const rgb = Number.isFinite(v) ? VIRIDIS[colourIndex(v, min, max)]! : INVALID_COLOUR;
      canvas.fill(plot.x + f * s, plot.y + (width - 1 - c) * s, s, s, rgb);
    }
  }

  // Axes just outside the data, so no cell is covered.
  canvas.fill(plot.x - 1, plot.y, 1, plot.h + 1, INK);
  canvas.fill(plot.x - 1, plot.y + plot.h, plot.w + 1, 1, INK);
  const half = Math.floor(s / 2);
  for (const { at, label } of r.xLabels) {
    const x = plot.x + at * s + half;
    canvas.fill(x, plot.y + plot.h + 1, 1, tick, INK);
    const lx = Math.max(0, x - Math.floor(t.width(label) / 2));
    canvas.text(t, label, lx, plot.y + plot.h + 1 + tick + t.px + 1);
  }
  const xTitleY = plot.y + plot.h + 1 + tick + t.px + 1 + t.height + 2 * (t.px + 1);
  canvas.text(t, r.xTitle, plot.x + Math.max(0, Math.floor((plot.w - t.width(r.xTitle)) / 2)), xTitleY);
  for (const { at, label } of r.yLabels) {
    const y = plot.y + (width - 1 - at) * s + half;
    canvas.fill(plot.x - 1 - tick, y, tick, 1, INK);
    const lx = plot.x - 1 - tick - (t.px + 1) - t.width(label);
    canvas.text(t, label, lx, y - Math.floor(t.height / 2));
  }
  canvas.text(t, r.yTitle, plot.x - 1 - tick - (t.px + 1) - t.width(r.yTitle), plot.y - t.height - (t.px + 1));
  if (opts.title) canvas.text(t, opts.title, plot.x, r.titleY);

  // Colour bar: bottom row is entry 0, top row entry 255.
  for (let row = 0; row < bar.h; row++) {
    const idx = bar.h === 1 ? 255 : Math.round(((bar.h - 1 - row) / (bar.h - 1)) * 255);
    canvas.fill(bar.x, bar.y + row, bar.w, 1, VIRIDIS[idx]!);
  }
  canvas.fill(bar.x + bar.w, bar.y, tick, 1, INK);
  canvas.fill(bar.x + bar.w, bar.y + bar.h - 1, tick, 1, INK);
  const labelX = bar.x + bar.w + tick + t.px + 1;
  canvas.text(t, r.maxLabel, labelX, bar.y - Math.floor(t.height / 2));
  canvas.text(t, r.minLabel, labelX, bar.y + bar.h - 1 - Math.floor(t.height / 2));

  return PNG.sync.write(canvas.png, { colorType: 2 });
}
