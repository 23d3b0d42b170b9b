/**
 * Special files never block the service: list files and clips are opened with O_NONBLOCK
 * and refused unless they are regular files; list files are bounded (MAX_LIST_FILE_BYTES)
 * and streamed.
 *
 * - a FIFO as validation_list.txt: a 422 `not-a-regular-file` naming the file, at once;
 *   more such registrations at once than libuv has pool threads (UV_THREADPOOL_SIZE,
 *   4 by default), then a normal registration and POST /v1/features still answer;
 * - a sparse 2 GiB list file: a 422 `list-file-too-large`, not a 500;
 * - a clip that is a FIFO: counted at registration, then skipped with reason
 *   `not-a-regular-file` by the featurization, the cold stream of its epoch ends, its
 *   preview and audio.wav are refused, nothing hangs.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { registerDataset, startTestApp, startTestWorkers, type TestApp } from '../helpers/app.ts';
import { makeTree, toneWav } from '../helpers/wav.ts';
import type { RunningWorkers } from '../../jobs/workers.ts';
import { waitFor } from '../helpers/wait.ts';
import { injectForm } from '../helpers/multipart.ts';

const P = 'https://audiofeed.dev/problems/';
/** More than libuv's default pool (4 threads): on a service that opens FIFOs blocking, these would take all of them. */
const CONCURRENT = 8;

const fifos: string[] = [];
function mkfifo(file: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  execFileSync('mkfifo', [file]);
  fifos.push(file);
}

/**
 * Cleanup for a service that did block on a FIFO (the behaviour this file guards against):
 * opening the write end releases a reader blocked in open(), so no thread stays parked and
 * the test process can exit.
 */
function releaseFifoReaders(): void {
  for (const f of fifos) {
    for (let i = 0; i < CONCURRENT + 2; i++) {
      try {
        fs.closeSync(fs.openSync(f, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK));
      } catch {
        break; // ENXIO: no reader left
      }
    }
  }
}

/** A speech_commands_lists tree: 6 yes, 5 no; `lists` overrides the list files' contents. */
function listTree(dir: string): void {
  const files: Record<string, Buffer | string> = {};
  for (let i = 1; i <= 6; i++) files[`yes/s${i}_nohash_0.wav`] = toneWav(1600, 300 + 40 * i);
  for (let i = 1; i <= 5; i++) files[`no/s${i}_nohash_0.wav`] = toneWav(1600, 900 + 50 * i);
  files['testing_list.txt'] = 'yes/s3_nohash_0.wav\nno/s2_nohash_0.wav\n';
  makeTree(dir, files);
}

const listsBody = (name: string) => ({ name, source: { type: 'directory', path: name }, classes: ['yes', 'no'], listing: 'speech_commands_lists' });

async function postFeatures(t: TestApp) {
  const form = new FormData();
  form.append('file', new Blob([toneWav(16000, 440)]), 'tone.wav');
  return injectForm(t.app, '/v1/features', form, { accept: 'application/json' });
}

describe('special list files', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(async () => {
    releaseFifoReaders();
    await t?.close();
  });

  test('a FIFO as validation_list.txt is a 422 not-a-regular-file naming the file', { timeout: 60_000 }, async () => {
    const dir = path.join(t.root, 'fifo-list');
    listTree(dir);
    mkfifo(path.join(dir, 'validation_list.txt'));
    const res = await t.app.inject({ method: 'POST', url: '/v1/datasets', payload: listsBody('fifo-list') });
    assert.equal(res.statusCode, 422, res.body);
    assert.match(res.headers['content-type'] as string, /application\/problem\+json/);
    const p = res.json();
    assert.equal(p.type, `${P}not-a-regular-file`);
    assert.equal(p.kind, 'FIFO');
    assert.match(p.detail, /list file .*fifo-list\/validation_list\.txt is a FIFO, not a regular file/);
  });

  test(`${CONCURRENT} FIFO registrations at once (more than the thread pool) are all refused; the service still answers`, { timeout: 120_000 }, async () => {
    for (let i = 0; i < CONCURRENT; i++) {
      const dir = path.join(t.root, `fifo-${i}`);
      listTree(dir);
      mkfifo(path.join(dir, 'validation_list.txt'));
    }
    const answers = await Promise.all(
      Array.from({ length: CONCURRENT }, (_, i) => t.app.inject({ method: 'POST', url: '/v1/datasets', payload: listsBody(`fifo-${i}`) })),
    );
    for (const res of answers) {
      assert.equal(res.statusCode, 422, res.body);
      assert.equal(res.json().type, `${P}not-a-regular-file`);
    }
    // The pool is not exhausted: file operations (a registration) and the DSP still run.
    const dir = path.join(t.root, 'fine');
    listTree(dir);
    fs.writeFileSync(path.join(dir, 'validation_list.txt'), 'yes/s2_nohash_0.wav\nno/s1_nohash_0.wav\n');
    const ok = await registerDataset(t, listsBody('fine'));
    assert.deepEqual((ok.class_counts as { validation: Record<string, number> }).validation, { yes: 1, no: 1 });
    const features = await postFeatures(t);
    assert.equal(features.statusCode, 200, features.body);
  });

  test('a sparse 2 GiB list file is a 422 list-file-too-large, not a 500', { timeout: 60_000 }, async () => {
    const dir = path.join(t.root, 'huge-list');
    listTree(dir);
    const file = path.join(dir, 'validation_list.txt');
    fs.writeFileSync(file, '');
    fs.truncateSync(file, 2 * 1024 ** 3);
    const res = await t.app.inject({ method: 'POST', url: '/v1/datasets', payload: listsBody('huge-list') });
    assert.equal(res.statusCode, 422, res.body);
    const p = res.json();
    assert.equal(p.type, `${P}list-file-too-large`);
    assert.equal(p.size, 2 * 1024 ** 3);
    assert.equal(p.limit, 64 * 1024 * 1024);
    assert.equal(p.setting, 'MAX_LIST_FILE_BYTES');
    assert.match(p.detail, /huge-list\/validation_list\.txt is 2147483648 bytes, more than MAX_LIST_FILE_BYTES/);
  });
});

describe('MAX_LIST_FILE_BYTES', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ MAX_LIST_FILE_BYTES: '64' });
  });
  after(async () => {
    await t?.close();
  });

  test('a list file over the setting is refused, one within it is read', async () => {
    const dir = path.join(t.root, 'limited');
    listTree(dir);
    fs.writeFileSync(path.join(dir, 'validation_list.txt'), 'yes/s2_nohash_0.wav\nno/s1_nohash_0.wav\n'.repeat(2)); // 78 bytes
    const res = await t.app.inject({ method: 'POST', url: '/v1/datasets', payload: listsBody('limited') });
    assert.equal(res.statusCode, 422, res.body);
    assert.equal(res.json().type, `${P}list-file-too-large`);
    assert.equal(res.json().limit, 64);
    fs.writeFileSync(path.join(dir, 'validation_list.txt'), 'yes/s2_nohash_0.wav\nno/s1_nohash_0.wav\n'); // 39 bytes
    await registerDataset(t, listsBody('limited'));
  });

  test('an index file over the setting is refused like a list file', async () => {
    const dir = path.join(t.root, 'limited-index');
    listTree(dir);
    fs.mkdirSync(path.join(dir, '.index'));
    // A pinned index of 6 entries (120 bytes): more than MAX_LIST_FILE_BYTES (64).
    fs.writeFileSync(path.join(dir, '.index', 'yes.txt'), Array.from({ length: 6 }, (_, i) => `yes/s${i + 1}_nohash_0.wav\n`).join(''));
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/datasets',
      payload: { name: 'limited-index', source: { type: 'directory', path: 'limited-index' }, classes: ['yes', 'no'], validation_split: 0.2 },
    });
    assert.equal(res.statusCode, 422, res.body);
    assert.equal(res.json().type, `${P}list-file-too-large`);
    assert.equal(res.json().limit, 64);
    assert.match(res.json().detail, /index file .*yes\.txt is 120 bytes/);
  });
});

describe('a clip that is a FIFO', () => {
  let t: TestApp;
  let workers: RunningWorkers | undefined;
  const FIFO_CLIP = 'yes/fifo.wav';
  before(async () => {
    t = await startTestApp();
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < 6; i++) files[`yes/y${i}.wav`] = toneWav(1600, 300 + 40 * i);
    for (let i = 0; i < 5; i++) files[`no/n${i}.wav`] = toneWav(1600, 900 + 50 * i);
    makeTree(path.join(t.root, 'fifo-clip'), files);
    mkfifo(path.join(t.root, 'fifo-clip', FIFO_CLIP));
    await registerDataset(t, { name: 'fifo-clip', source: { type: 'directory', path: 'fifo-clip' }, classes: ['yes', 'no'], validation_split: 0 });
    workers = startTestWorkers(t);
    await workers.ready();
  });
  after(async () => {
    releaseFifoReaders();
    await workers?.close();
    await t?.close();
  });

  test('is counted at registration, skipped as not-a-regular-file, and the cold stream of its epoch ends', { timeout: 120_000 }, async () => {
    const entries = (await t.ctx.registry.subsets('fifo-clip')).training!.entries;
    assert.ok(entries.includes(FIFO_CLIP), 'the FIFO is listed like any clip');
    const res = await t.app.inject({ url: '/v1/datasets/fifo-clip/batches?subset=training&epoch=0&steps_per_epoch=1&batch_size=12&format=npy' });
    assert.equal(res.statusCode, 200, res.body);
    assert.ok(res.rawPayload.length > 0);
    // The shards are complete, with the FIFO skipped by name.
    const summary = await waitFor(async () => (await t.app.inject({ url: '/v1/datasets/fifo-clip/summary', headers: { accept: 'application/json' } })).json(), {
      what: 'every training shard of fifo-clip done',
      until: (s) => s.featurization.training.shards_done === s.featurization.training.shards_total,
    });
    assert.deepEqual(
      summary.featurization.training.skipped_clips.map((c: { entry: string; reason: string }) => [c.entry, c.reason]),
      [[FIFO_CLIP, 'not-a-regular-file']],
    );
  });

  test('its audio.wav and spectrogram.png are refused with the reason', { timeout: 60_000 }, async () => {
    const entries = (await t.ctx.registry.subsets('fifo-clip')).training!.entries;
    const n = entries.indexOf(FIFO_CLIP);
    const audio = await t.app.inject({ url: `/v1/datasets/fifo-clip/samples/${n}/audio.wav` });
    assert.equal(audio.statusCode, 422, audio.body);
    assert.equal(audio.json().reason, 'not-a-regular-file');
    const png = await t.app.inject({ url: `/v1/datasets/fifo-clip/samples/${n}/spectrogram.png` });
    assert.equal(png.statusCode, 422, png.body);
    assert.equal(png.json().reason, 'not-a-regular-file');
  });
});
