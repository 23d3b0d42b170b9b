/**
 * Spectrogram PNG renderer: image size, colour map ends, orientation (time left to
 * right, channel 0 at the bottom), value clamping and the colour bar.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PNG } from 'pngjs';
import {
  VIRIDIS,
  colourIndex,
  renderSpectrogramPng,
  spectrogramPngLayout,
  type SpectrogramPngLayout,
} from '../../src/core/render/spectrogram-png.ts';

function pixel(png: PNG, x: number, y: number): [number, number, number] {
  const i = (y * png.width + x) * 4;
  return [png.data[i]!, png.data[i + 1]!, png.data[i + 2]!];
}

/** Centre pixel of the cell for frame f, channel c. */
function cell(png: PNG, layout: SpectrogramPngLayout, channels: number, f: number, c: number): [number, number, number] {
  const s = layout.scale;
  return pixel(png, layout.plot.x + f * s + Math.floor(s / 2), layout.plot.y + (channels - 1 - c) * s + Math.floor(s / 2));
}

const rgb = (i: number): [number, number, number] => [...VIRIDIS[i]!] as [number, number, number];

describe('colour map', () => {
  test('is matplotlib viridis: 256 entries from #440154 to #fde725, getting brighter', () => {
    assert.equal(VIRIDIS.length, 256);
    assert.deepEqual(rgb(0), [0x44, 0x01, 0x54]);
    assert.deepEqual(rgb(128), [0x21, 0x91, 0x8c]);
    assert.deepEqual(rgb(255), [0xfd, 0xe7, 0x25]);
    const lum = ([r, g, b]: readonly number[]) => 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
    for (let i = 0; i + 8 < 256; i++) assert.ok(lum(VIRIDIS[i + 8]!) > lum(VIRIDIS[i]!), `entry ${i + 8} brighter than ${i}`);
  });

  test('colourIndex maps min to 0, max to 255 and clamps', () => {
    assert.equal(colourIndex(10, 10, 20), 0);
    assert.equal(colourIndex(20, 10, 20), 255);
    assert.equal(colourIndex(15, 10, 20), 128);
    assert.equal(colourIndex(-5, 10, 20), 0);
    assert.equal(colourIndex(99, 10, 20), 255);
    assert.equal(colourIndex(7, 7, 7), 0);
  });
});

describe('renderSpectrogramPng', () => {
  const H = 98;
  const W = 32;
  const ramp = Float32Array.from({ length: H * W }, (_, i) => i);

  test('has the layout size, the plot is 4 px per cell with margins around it', () => {
    const png = PNG.sync.read(renderSpectrogramPng(ramp, H, W, { title: 'ramp 98x32' }));
    const layout = spectrogramPngLayout(H, W, { title: 'ramp 98x32' }, { min: 0, max: H * W - 1 });
    assert.equal(png.width, layout.width);
    assert.equal(png.height, layout.height);
    assert.equal(layout.scale, 4);
    assert.deepEqual([layout.plot.w, layout.plot.h], [H * 4, W * 4]);
    assert.ok(layout.plot.x > 0 && layout.plot.y > 0, 'margins on the left and top');
    assert.ok(png.width > layout.colourBar.x + layout.colourBar.w, 'room for colour-bar labels');
    assert.ok(png.height > layout.plot.y + layout.plot.h, 'room for the x axis');
  });

  test('the max cell has the top colour, the min cell the bottom colour, every cell its own', () => {
    const png = PNG.sync.read(renderSpectrogramPng(ramp, H, W));
    const layout = spectrogramPngLayout(H, W, {}, { min: 0, max: H * W - 1 });
    assert.deepEqual(cell(png, layout, W, H - 1, W - 1), rgb(255));
    assert.deepEqual(cell(png, layout, W, 0, 0), rgb(0));
    for (let f = 0; f < H; f++) {
      for (let c = 0; c < W; c++) {
        assert.deepEqual(cell(png, layout, W, f, c), rgb(colourIndex(f * W + c, 0, H * W - 1)), `cell ${f},${c}`);
      }
    }
  });

  test('channel 0 is at the bottom and frame 0 at the left', () => {
    const frames = 10;
    const channels = 6;
    const low = new Uint16Array(frames * channels);
    for (let f = 0; f < frames; f++) low[f * channels] = 500; // only channel 0 is loud
    const a = PNG.sync.read(renderSpectrogramPng(low, frames, channels, { scale: 3 }));
    const la = spectrogramPngLayout(frames, channels, { scale: 3 }, { min: 0, max: 500 });
    const bottomRow = la.plot.y + la.plot.h - 1;
    const topRow = la.plot.y;
    for (let x = la.plot.x; x < la.plot.x + la.plot.w; x++) {
      assert.deepEqual(pixel(a, x, bottomRow), rgb(255));
      assert.deepEqual(pixel(a, x, topRow), rgb(0));
    }

    const first = new Uint16Array(frames * channels);
    for (let c = 0; c < channels; c++) first[c] = 500; // only frame 0 is loud
    const b = PNG.sync.read(renderSpectrogramPng(first, frames, channels, { scale: 3 }));
    for (let y = la.plot.y; y < la.plot.y + la.plot.h; y++) {
      assert.deepEqual(pixel(b, la.plot.x, y), rgb(255));
      assert.deepEqual(pixel(b, la.plot.x + la.plot.w - 1, y), rgb(0));
    }
  });

  test('min/max options clamp, NaN is grey, the colour bar runs bottom to top', () => {
    const values = Float32Array.from([-10, 0, 50, 100, 1000, Number.NaN]);
    const png = PNG.sync.read(renderSpectrogramPng(values, 3, 2, { min: 0, max: 100, scale: 5 }));
    const layout = spectrogramPngLayout(3, 2, { min: 0, max: 100, scale: 5 });
    assert.deepEqual(cell(png, layout, 2, 0, 0), rgb(0)); // -10 clamps to min
    assert.deepEqual(cell(png, layout, 2, 1, 0), rgb(128)); // 50
    assert.deepEqual(cell(png, layout, 2, 2, 0), rgb(255)); // 1000 clamps to max
    assert.deepEqual(cell(png, layout, 2, 2, 1), [128, 128, 128]);
    const bar = layout.colourBar;
    assert.deepEqual(pixel(png, bar.x + 1, bar.y), rgb(255));
    assert.deepEqual(pixel(png, bar.x + 1, bar.y + bar.h - 1), rgb(0));
  });

  test('draws tick labels in the margins', () => {
    const png = PNG.sync.read(renderSpectrogramPng(ramp, H, W, { stepMs: 10 }));
    const layout = spectrogramPngLayout(H, W, { stepMs: 10 }, { min: 0, max: H * W - 1 });
    const dark = (x: number, y: number) => pixel(png, x, y).every((v) => v < 100);
    let left = 0;
    for (let y = layout.plot.y; y < layout.plot.y + layout.plot.h; y++) {
      for (let x = 0; x < layout.plot.x - 6; x++) if (dark(x, y)) left++;
    }
    let below = 0;
    for (let y = layout.plot.y + layout.plot.h + 6; y < png.height; y++) {
      for (let x = 0; x < png.width; x++) if (dark(x, y)) below++;
    }
    assert.ok(left > 20, `channel labels drawn (${left} dark pixels)`);
    assert.ok(below > 50, `time labels drawn (${below} dark pixels)`);
  });

  test('rejects a value count that does not match the shape, and bad scales', () => {
    assert.throws(() => renderSpectrogramPng(new Uint16Array(10), 3, 4), RangeError);
    assert.throws(() => renderSpectrogramPng(new Uint16Array(12), 3, 4, { scale: 0 }), RangeError);
    assert.throws(() => renderSpectrogramPng(new Uint16Array(12), 3, 4, { scale: 1.5 }), RangeError);
    assert.throws(() => renderSpectrogramPng(new Uint16Array(12), 3, 4, { min: 5, max: 1 }), RangeError);
    assert.throws(() => renderSpectrogramPng(new Uint16Array(0), 0, 4), RangeError);
  });
});
