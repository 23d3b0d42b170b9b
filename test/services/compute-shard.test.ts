/**
 * computeShard with the frontend on runs the whole per-clip pipeline in
 * FrontendBackend.featurizeWavs. Its shards must be byte-identical, with the same
 * failures (row, reason, message), on the native backend, on the TypeScript backend and
 * on the clip-by-clip loadSample path that computed every shard before it.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { selectFrontendBackend, type FrontendBackend } from '../../src/core/frontend/backend.ts';
import { resolveFrontendSettings } from '../../src/core/frontend/settings.ts';
import { computeShard, computeShardClipByClip, type ShardInput } from '../../src/services/features/compute-shard.ts';
import { SHARD_SIZE, type FeatureSpec } from '../../src/services/features/plan.ts';
import { TESTDATA, testdata } from '../helpers/paths.ts';

const nativeBackend = selectFrontendBackend('native', () => {});
const tsBackend = selectFrontendBackend('typescript', () => {});

function wavsUnder(sub: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.wav')) out.push(path.relative(TESTDATA, p));
    }
  };
  walk(testdata(sub));
  return out;
}

const spec = (over: Partial<FeatureSpec> = {}): FeatureSpec => ({
  frontendEnabled: true,
  frontendSettings: resolveFrontendSettings({}),
  trimThresholdDb: 20,
  ...over,
});

/** The data root as a real path (the shared folder is reached through a symlink). */
const ROOT = fs.realpathSync(TESTDATA);
const inputOf = (entries: (string | null)[], s: FeatureSpec): ShardInput => ({ datasetDir: ROOT, root: ROOT, entries, spec: s });

/** Every shard of `entries` (SHARD_SIZE at a time) on the three paths must agree. */
async function assertSameShards(entries: (string | null)[], s: FeatureSpec, options: { threads?: number } = {}): Promise<number> {
  let failures = 0;
  for (let at = 0; at < entries.length; at += SHARD_SIZE) {
    const input = inputOf(entries.slice(at, at + SHARD_SIZE), s);
    const reference = await computeShardClipByClip(input, tsBackend);
    failures += reference.header.failures.length;
    const paths: [string, FrontendBackend][] = [
      ['native', nativeBackend],
      ['typescript', tsBackend],
    ];
    for (const [name, backend] of paths) {
      const got = await computeShard(input, backend, options);
      assert.deepEqual(got.header, reference.header, `${name}: header of shard at ${at}`);
      assert.ok(Buffer.from(got.data).equals(Buffer.from(reference.data)), `${name}: data of shard at ${at} differs`);
    }
  }
  return failures;
}

describe('computeShard: the batched pipeline gives the clip-by-clip bytes', () => {
  it('uses the native backend (this file would otherwise compare TypeScript with itself)', () => {
    assert.equal(nativeBackend.name, 'native');
  });

  it('corpus-mini, with silence entries, one thread per call', async () => {
    const entries: (string | null)[] = wavsUnder('corpus-mini');
    assert.ok(entries.length > SHARD_SIZE, 'corpus-mini spans several shards');
    entries.splice(3, 0, null);
    entries.push(null);
    assert.equal(await assertSameShards(entries, spec(), { threads: 1 }), 0, 'every corpus-mini clip loads');
  });

  it('corpus-mini-odd (other rates, encodings, channel counts), default threads', async () => {
    assert.equal(await assertSameShards(wavsUnder('corpus-mini-odd'), spec()), 0, 'every corpus-mini-odd clip loads');
  });

  it('bad WAVs, missing files and unsafe entries: same failures, zero rows', async () => {
    const entries: (string | null)[] = [
      ...wavsUnder('bad-wavs'),
      'corpus-mini/no-such-file.wav',
      '../outside.wav',
      '',
      'corpus-mini', // a directory
      null,
    ];
    const input = inputOf(entries, spec());
    const reference = await computeShardClipByClip(input, tsBackend);
    const reasons = new Set(reference.header.failures.map((f) => f.reason));
    assert.ok(reference.header.failures.length >= 10 && reasons.size >= 5, `bad-wavs fails in many ways: ${[...reasons].join(', ')}`);
    assert.ok(reference.header.failures.length < entries.length, 'some bad-wavs files are valid');
    await assertSameShards(entries, spec());
  });

  it('trim_threshold_db 0 and 7.5, and a clip length that crops', async () => {
    const entries = wavsUnder('corpus-mini').slice(0, 40);
    assert.equal(await assertSameShards(entries, spec({ trimThresholdDb: 0 })), 0);
    assert.equal(await assertSameShards(entries, spec({ trimThresholdDb: 7.5 })), 0);
    assert.equal(await assertSameShards(entries, spec({ frontendSettings: resolveFrontendSettings({ sample_length_ms: 640 }) })), 0);
  });

  it('an invalid trim threshold is still a failure of every clip, not of the call', async () => {
    const entries = [...wavsUnder('corpus-mini').slice(0, 3), null];
    const s = spec({ trimThresholdDb: -1 });
    const got = await computeShard(inputOf(entries, s), nativeBackend);
    assert.equal(got.header.failures.length, entries.length);
    assert.ok(got.header.failures.every((f) => /trim_threshold_db/.test(f.detail)));
    assert.equal(await assertSameShards(entries, s), entries.length);
  });

  it('links out of the data root, dangling links, a file over the size limit: the same failures', async (t) => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'compute-shard-'));
    t.after(() => fs.rmSync(base, { recursive: true, force: true }));
    const root = path.join(base, 'root');
    const ds = path.join(root, 'ds');
    fs.mkdirSync(ds, { recursive: true });
    const clip = testdata(wavsUnder('corpus-mini')[0]!);
    fs.copyFileSync(clip, path.join(ds, 'ok.wav'));
    fs.copyFileSync(clip, path.join(base, 'outside.wav'));
    fs.symlinkSync(path.join(base, 'outside.wav'), path.join(ds, 'out-link.wav'));
    fs.symlinkSync(path.join(ds, 'ok.wav'), path.join(ds, 'in-link.wav'));
    fs.symlinkSync(path.join(ds, 'missing.wav'), path.join(ds, 'dangling.wav'));
    fs.writeFileSync(path.join(ds, 'huge.wav'), '');
    fs.truncateSync(path.join(ds, 'huge.wav'), 256 * 1024 * 1024 + 1); // sparse: over MAX_WAV_FILE_BYTES, nothing written
    const entries = ['ok.wav', 'out-link.wav', 'in-link.wav', 'dangling.wav', 'huge.wav', null];
    const input: ShardInput = { datasetDir: ds, root, entries, spec: spec() };
    const reference = await computeShardClipByClip(input, tsBackend);
    assert.deepEqual(
      reference.header.failures.map((f) => [f.row, f.reason]),
      [
        [1, 'outside-root'],
        [3, 'file-not-found'],
        [4, 'file-too-large'],
      ],
    );
    for (const backend of [nativeBackend, tsBackend]) {
      const got = await computeShard(input, backend);
      assert.deepEqual(got.header, reference.header);
      assert.ok(Buffer.from(got.data).equals(Buffer.from(reference.data)));
    }
  });
});
