/**
 * `npm run demo` without a service (test/walkthrough.test.ts runs it against one): the
 * corpus is the same bytes on every run, a second run writes nothing, and with no service
 * at AUDIOFEED_URL it says how to start one and exits 3, as the CLI does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../store/redis.ts';
import { decodeWav } from '../src/core/audio/wav.ts';
import { CLIPS_PER_FOLDER, DEMO_FOLDERS, demoCorpus, runDemo } from '../scripts/demo.ts';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) }, out, err };
}

test('demo corpus: one-second 16 kHz mono clips, the same bytes every time, distinct clips', () => {
  const a = demoCorpus();
  const b = demoCorpus();
  assert.equal(a.size, DEMO_FOLDERS.length * CLIPS_PER_FOLDER);
  for (const [name, bytes] of a) {
    assert.ok(bytes.equals(b.get(name)!), `${name} is deterministic`);
    const wav = decodeWav(bytes, name);
    assert.deepEqual([wav.sampleRate, wav.channels, wav.samples.length], [16000, 1, 16000], name);
  }
  const distinct = new Set([...a.values()].map((v) => v.toString('base64')));
  assert.equal(distinct.size, a.size, 'no two clips are the same');
});

test('npm run demo with no service: writes the corpus, says to start the service, exits 3; a rerun writes nothing', async (t) => {
  const datasets = fs.mkdtempSync(path.join(os.tmpdir(), 'af-demo-'));
  t.after(() => fs.rmSync(datasets, { recursive: true, force: true }));
  const url = `http://127.0.0.1:${await freePort()}`; // nothing listens there

  const first = capture();
  assert.equal(await runDemo([], { AUDIOFEED_URL: url }, first.io, datasets), 3);
  assert.match(first.out[0]!, /demo corpus: 60 clips in .*demo\/\{up,down,tone,noise,other\} \(written\)/);
  assert.match(first.err.join('\n'), new RegExp(`cannot reach the service at ${url}`));
  assert.match(first.err.join('\n'), /start the service with `npm start` in another terminal/);
  for (const [rel, bytes] of demoCorpus()) assert.ok(fs.readFileSync(path.join(datasets, 'demo', rel)).equals(bytes), rel);

  const mtime = fs.statSync(path.join(datasets, 'demo', 'up', 'up_00.wav')).mtimeMs;
  const second = capture();
  assert.equal(await runDemo(['--corpus-only'], { AUDIOFEED_URL: url }, second.io, datasets), 0);
  assert.match(second.out.join('\n'), /\(already there\)/);
  assert.deepEqual(second.err, []);
  assert.equal(fs.statSync(path.join(datasets, 'demo', 'up', 'up_00.wav')).mtimeMs, mtime, 'an unchanged clip is not rewritten');

  // A clip that differs (edited, truncated) is put back.
  fs.writeFileSync(path.join(datasets, 'demo', 'tone', 'tone_03.wav'), 'not a wav');
  const third = capture();
  assert.equal(await runDemo(['--corpus-only'], {}, third.io, datasets), 0);
  assert.match(third.out.join('\n'), /\(1 written, 59 already there\)/);

  const usage = capture();
  assert.equal(await runDemo(['--frobnicate'], {}, usage.io, datasets), 2);
  assert.match(usage.err.join('\n'), /Usage: npm run demo/);
});
