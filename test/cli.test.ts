/**
 * The `audiofeed` CLI as a child process (bin/audiofeed.js from another working
 * directory): outputs equal the direct src/ computation, user errors are one line on
 * stderr with exit 1, usage errors exit 2.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Writable } from 'node:stream';
import { PNG } from 'pngjs';
import { main } from '../cli/main.ts';
import { decodeWav, prepareSample, toInt16 } from '../src/core/audio/index.ts';
import { computeSpectrogram } from '../src/core/frontend/frontend.ts';
import { convertSpectrogram } from '../src/core/frontend/output.ts';
import type { FeatureDtype } from '../src/core/schemas.ts';
import { resolveFrontendSettings, type FrontendSettings } from '../src/core/frontend/settings.ts';
import { decodeNpy } from '../src/core/tensors/npy.ts';
import { PROJECT_ROOT, testdata } from './helpers/paths.ts';
import { wavBytes } from './helpers/wav.ts';

const BIN = path.join(PROJECT_ROOT, 'bin', 'audiofeed.js');
const REFERENCE = testdata('bad-wavs', 'reference-valid.wav');
let work: string;

before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'audiofeed-cli-'));
});
after(() => fs.rmSync(work, { recursive: true, force: true }));

interface Run {
  code: number;
  stdout: Buffer;
  stderr: string;
}

/** Runs the CLI with `work` as the working directory, so nothing relies on the project's. */
function cli(...args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd: work, timeout: 240_000, encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') return reject(err);
        resolve({ code: err ? (err.code as number) : 0, stdout, stderr: stderr.toString('utf8') });
      },
    );
  });
}

/** cli/main.ts's main() in this process, with `work` as the working directory and its output captured. */
async function inProcess(...args: string[]): Promise<Run> {
  const out: Buffer[] = [];
  let stderr = '';
  const sink = (write: (chunk: Buffer) => void) => new Writable({ write: (chunk: Buffer, _enc, cb) => (write(Buffer.from(chunk)), cb()) });
  const cwd = process.cwd();
  process.chdir(work);
  try {
    const code = await main(args, { stdout: sink((c) => out.push(c)), stderr: sink((c) => (stderr += c.toString('utf8'))) });
    return { code, stdout: Buffer.concat(out), stderr };
  } finally {
    process.chdir(cwd);
  }
}

function expected(fe: Partial<FrontendSettings>, dtype: FeatureDtype) {
  const s = resolveFrontendSettings(fe);
  const samples = prepareSample(decodeWav(fs.readFileSync(REFERENCE)), {
    sampleRateHz: s.sample_rate_hz,
    sampleLengthMs: s.sample_length_ms,
    trimThresholdDb: 20,
  });
  const r = computeSpectrogram(s, toInt16(samples));
  return convertSpectrogram(r.uint16, s, dtype);
}

const bytesOf = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** No Node stack frame may reach the user for an error they caused. */
function assertOneLine(stderr: string): void {
  assert.equal(stderr.trimEnd().split('\n').length, 1, stderr);
  assert.doesNotMatch(stderr, /\n\s+at /);
}

describe('audiofeed features', () => {
  test('--out x.npy writes the same bytes as computeSpectrogram (int8 and uint16, both backends)', async () => {
    for (const [dtype, backend] of [['int8', 'auto'], ['uint16', 'typescript'], ['uint16', 'auto']] as const) {
      const out = `x-${dtype}-${backend}.npy`;
      const r = await cli('features', REFERENCE, '--dtype', dtype, '--backend', backend, '--out', out);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.toString().trim(), `shape (98, 32) dtype ${dtype} -> ${out}`);
      const npy = decodeNpy(fs.readFileSync(path.join(work, out)));
      assert.equal(npy.dtype, dtype);
      assert.deepEqual(npy.shape, [98, 32]);
      assert.ok(bytesOf(npy.data).equals(bytesOf(expected({}, dtype))), `${dtype} via ${backend}`);
    }
  });

  test('without --out prints the shape and min/max/mean', async () => {
    const r = await cli('features', REFERENCE);
    assert.equal(r.code, 0, r.stderr);
    const want = Array.from(expected({}, 'float32'));
    const mean = want.reduce((a, b) => a + b, 0) / want.length;
    const m = /^shape \(98, 32\) dtype float32 min (\S+) max (\S+) mean (\S+)$/.exec(r.stdout.toString().trim());
    assert.ok(m, r.stdout.toString());
    assert.equal(Number(m[1]), Math.min(...want));
    assert.equal(Number(m[2]), Math.max(...want));
    assert.ok(Math.abs(Number(m[3]) - mean) < 1e-3, `${m[3]} vs ${mean}`);
  });

  test('--settings file and --set override the frontend settings', async () => {
    fs.writeFileSync(path.join(work, 'mltk.json'), JSON.stringify({ window_size_ms: 30, window_step_ms: 20, filterbank_n_channels: 40 }));
    fs.writeFileSync(
      path.join(work, 'request.json'),
      JSON.stringify({ frontend_settings: { window_size_ms: 30, window_step_ms: 20 }, dtype: 'uint16' }),
    );
    let r = await cli('features', REFERENCE, '--settings', 'mltk.json', '--dtype', 'uint16', '--out', 'a.npy');
    assert.equal(r.code, 0, r.stderr);
    assert.ok(bytesOf(decodeNpy(fs.readFileSync(path.join(work, 'a.npy'))).data).equals(
      bytesOf(expected({ window_size_ms: 30, window_step_ms: 20, filterbank_n_channels: 40 }, 'uint16')),
    ));
    r = await cli('features', REFERENCE, '--settings', 'request.json', '--set', 'filterbank_n_channels=24', '--out', 'b.npy');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.toString(), /^shape \(49, 24\) dtype uint16 -> b\.npy/);
    assert.ok(bytesOf(decodeNpy(fs.readFileSync(path.join(work, 'b.npy'))).data).equals(
      bytesOf(expected({ window_size_ms: 30, window_step_ms: 20, filterbank_n_channels: 24 }, 'uint16')),
    ));
  });

  test('--format json to stdout and png from the --out extension', async () => {
    const r = await cli('features', REFERENCE, '--dtype', 'int8', '--format', 'json', '--out', '-');
    assert.equal(r.code, 0, r.stderr);
    const body = JSON.parse(r.stdout.toString()) as { shape: number[]; dtype: string; data: number[][] };
    assert.deepEqual(body.shape, [98, 32]);
    assert.deepEqual(body.data.flat(), Array.from(expected({}, 'int8')));
    assert.match(r.stderr, /shape \(98, 32\) dtype int8 -> stdout \(json\)/);

    const p = await cli('features', REFERENCE, '--out', 'x.png');
    assert.equal(p.code, 0, p.stderr);
    const png = PNG.sync.read(fs.readFileSync(path.join(work, 'x.png')));
    assert.ok(png.width > 98 * 4 && png.height > 32 * 4, `${png.width}x${png.height}`);
  });

  test('--raw reproduces a frontend golden vector byte for byte', async () => {
    const v = JSON.parse(fs.readFileSync(testdata('frontend', 'micro_speech_pcan_speech_no.json'), 'utf8')) as {
      settings: Record<string, unknown>;
      input: { sample_rate_hz: number; pcm_int16_base64: string };
      uint16_base64: string;
    };
    const pcm = Buffer.from(v.input.pcm_int16_base64, 'base64');
    fs.writeFileSync(path.join(work, 'device.wav'), wavBytes(new Int16Array(pcm.buffer, pcm.byteOffset, pcm.length / 2), v.input.sample_rate_hz));
    fs.writeFileSync(path.join(work, 'vector-settings.json'), JSON.stringify(v.settings));
    const r = await cli('features', 'device.wav', '--raw', '--settings', 'vector-settings.json', '--dtype', 'uint16', '--out', 'device.npy');
    assert.equal(r.code, 0, r.stderr);
    const npy = decodeNpy(fs.readFileSync(path.join(work, 'device.npy')));
    assert.ok(bytesOf(npy.data).equals(Buffer.from(v.uint16_base64, 'base64')));

    const wrong = await cli('features', testdata('bad-wavs', 'valid-short.wav'), '--raw', '--settings', 'vector-settings.json');
    assert.equal(wrong.code, 1);
    assertOneLine(wrong.stderr);
    assert.match(wrong.stderr, /the clip has 4000 samples at 16000 Hz, .* need exactly 16000 samples at 16000 Hz/);
  });
});

describe('audiofeed errors', () => {
  test('a bad WAV exits 1 with the reason on one stderr line', async () => {
    const cases = [['fmt-bits-7.wav', 'unsupported-bit-depth'], ['not-riff.wav', 'not-riff'], ['empty.wav', 'empty-file']] as const;
    const runs = await Promise.all(cases.map(([name]) => cli('features', testdata('bad-wavs', name))));
    for (const [i, [name, reason]] of cases.entries()) {
      const r = runs[i]!;
      assert.equal(r.code, 1, name);
      assertOneLine(r.stderr);
      assert.match(r.stderr, new RegExp(`^audiofeed: .*${name}: .*\\[${reason}\\]`));
      assert.equal(r.stdout.length, 0);
    }
  });

  test('missing files and invalid settings exit 1 with one line', async () => {
    let r = await cli('features', 'nope.wav');
    assert.equal(r.code, 1);
    assertOneLine(r.stderr);
    assert.match(r.stderr, /cannot read nope\.wav: no such file/);

    // The rest through main() in this process (what the binary runs; one child each would pay tsx's start-up).
    r = await inProcess('features', REFERENCE, '--set', 'window_step_ms=100');
    assert.equal(r.code, 1);
    assertOneLine(r.stderr);
    assert.match(r.stderr, /window_step_ms/);

    fs.writeFileSync(path.join(work, 'broken.json'), '{"dtype": ');
    r = await inProcess('features', REFERENCE, '--settings', 'broken.json');
    assert.equal(r.code, 1);
    assertOneLine(r.stderr);
    assert.match(r.stderr, /broken\.json is not valid JSON/);

    fs.writeFileSync(path.join(work, 'unknown.json'), JSON.stringify({ dtype: 'int8', colour: 1 }));
    r = await inProcess('features', REFERENCE, '--settings', 'unknown.json');
    assert.equal(r.code, 1);
    assertOneLine(r.stderr);
    assert.match(r.stderr, /unknown\.json: unknown field "colour"/);
  });

  test('usage errors exit 2', async () => {
    // Through the binary once (the exit status of the process); every case through main()
    // in this process, which is what the binary runs: eight more children would each pay
    // tsx's start-up, minutes on a loaded machine, for no more coverage.
    const bin = await cli('features', REFERENCE, '--bogus');
    assert.equal(bin.code, 2, bin.stderr);
    assertOneLine(bin.stderr);
    assert.match(bin.stderr, /Unknown option '--bogus'.*audiofeed --help/);
    assert.equal(bin.stdout.length, 0);
    const cases = [
      ['features', REFERENCE, '--bogus'],
      ['features', REFERENCE, '--dtype', 'int16'],
      ['features', REFERENCE, '--format', 'npy'],
      ['features', REFERENCE, '--set', 'no_such_setting=1'],
      ['features', REFERENCE, '--set', 'pcan_enable=maybe'],
      ['features'],
      ['frobnicate'],
      [],
    ];
    for (const args of cases) {
      const r = await inProcess(...args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
      assert.equal(r.stdout.length, 0, args.join(' '));
    }
    assert.equal((await inProcess(...cases[0]!)).stderr, bin.stderr, 'main() answers as the binary does');
  });

  test('--help prints the usage and exits 0', async () => {
    for (const args of [['--help'], ['help'], ['features', '--help']]) {
      const r = args[0] === '--help' ? await cli(...args) : await inProcess(...args);
      assert.equal(r.code, 0);
      assert.match(r.stdout.toString(), /^Usage: audiofeed <command>/);
      assert.match(r.stdout.toString(), /--raw/);
    }
  });
});
