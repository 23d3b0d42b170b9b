/**
 * Augmented batches computed ahead of the trainer (src/services/epochs/augmented-producer.ts):
 * a stream keeps AUGMENT_LOOKAHEAD batches queued or computed past the one it sends, and
 * no more; near the end of an epoch that window runs into the next epoch's first batches,
 * which the next request then finds computed; a training subset just registered has the
 * head of its epoch 0 computed before it is asked for; two clients of the same augmented
 * epoch share one computation per batch; a stream that leaves early leaves no queued job,
 * and its files expire (AUGMENT_BATCH_TTL_MS).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Queue, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { startTestApp, startTestWorkers, registerDataset, type TestApp } from '../helpers/app.ts';
import { cleanups, closeAll } from '../helpers/cleanup.ts';
import { copyCorpus, testdata } from '../helpers/paths.ts';
import { waitFor, within } from '../helpers/wait.ts';
import type { RunningWorkers } from '../../jobs/workers.ts';
import { AUGMENT_QUEUE, augmentWantsKey, connectionFromUrl } from '../../jobs/queues.ts';
import type { AugmentBatchJob } from '../../src/services/ports.ts';
import { npyXs } from '../helpers/npy-stream.ts';

const LOOKAHEAD = 3;
const augmentation = {
  offset_range: [0, 1] as [number, number],
  loudness_range: [0.6, 1.2] as [number, number],
  noise_colors: 'all' as const,
  noise_color_range: [0, 0.05] as [number, number],
  speed_range: [0.9, 1.1] as [number, number],
};

/** A service with its workers; `computed` counts, per augmented job id, the times a worker really computed it. */
interface Service {
  t: TestApp;
  workers: RunningWorkers;
  /** Closes the workers and connects one to the augment queue that takes no job (streams are accepted, nothing is computed). */
  holdWorkers(): Promise<void>;
  /** Starts the workers again after holdWorkers(). */
  resumeWorkers(): Promise<void>;
  jobs: Queue;
  computed: Map<string, number>;
  close(): Promise<void>;
}

async function startService(env: Record<string, string>): Promise<Service> {
  const t = await startTestApp({ AUGMENT_LOOKAHEAD: String(LOOKAHEAD), ...env });
  const computed = new Map<string, number>();
  const start = () =>
    startTestWorkers(t, {
      log: (_msg, f) => {
        if (f?.event === 'completed' && f.queue === AUGMENT_QUEUE && f.reused === false) computed.set(String(f.jobId), (computed.get(String(f.jobId)) ?? 0) + 1);
      },
    });
  let workers = start();
  let idle: Worker | null = null;
  const jobs = new Queue(AUGMENT_QUEUE, { connection: connectionFromUrl(t.redisUrl), prefix: t.prefix });
  const close = () =>
    closeAll(
      () => jobs.close(),
      () => idle?.close(),
      () => workers.close(),
      () => t.close(),
    );
  const holdWorkers = async () => {
    idle = new Worker(AUGMENT_QUEUE, async () => undefined, { connection: connectionFromUrl(t.redisUrl), prefix: t.prefix, autorun: false });
    await idle.waitUntilReady();
    await workers.close();
  };
  const resumeWorkers = async () => {
    workers = start();
    await within(workers.ready(), 'the test workers connected again');
    await idle?.close();
    idle = null;
  };
  try {
    copyCorpus(testdata('corpus-mini'), path.join(t.root, 'mini'));
    // Connected before anything is asked of them (the head of epoch 0 is queued at registration).
    await within(workers.ready(), 'the test workers connected');
    await jobs.waitUntilReady();
    await registerDataset(t, {
      name: 'ahead',
      source: { type: 'directory', path: 'mini' },
      classes: ['yes', 'no', '_silence_'],
      validation_split: 0.25,
      batch_size: 2,
      augmentation,
    });
  } catch (err) {
    await close();
    throw err;
  }
  return {
    t,
    get workers() {
      return workers;
    },
    holdWorkers,
    resumeWorkers,
    jobs,
    computed,
    close,
  };
}

const ALL_STATES = ['waiting', 'prioritized', 'delayed', 'active', 'completed', 'failed'] as const;
const allJobs = async (s: Service): Promise<Job<AugmentBatchJob>[]> => (await s.jobs.getJobs([...ALL_STATES])) as Job<AugmentBatchJob>[];
/** Batch numbers of epoch `epoch` that have a job, ascending. */
const batchesWithJobs = async (s: Service, epoch: number): Promise<number[]> =>
  (await allJobs(s))
    .filter((j) => j.data.epoch === epoch)
    .map((j) => j.data.batch)
    .sort((a, b) => a - b);
const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const augmentDir = (s: Service) => path.join(s.t.dataDir, 'tmp', 'augment');
const filesIn = (dir: string) => (fs.existsSync(dir) ? fs.readdirSync(dir) : []);

async function epochBytes(s: Service, epoch: number): Promise<Buffer[]> {
  // Bounded: a stream that never ends fails here, named, instead of holding the file to its timeout.
  const res = await within(s.t.app.inject({ url: `/v1/datasets/ahead/batches?epoch=${epoch}&format=npy` }), `epoch ${epoch} streamed`);
  assert.equal(res.statusCode, 200, res.body);
  return npyXs(res.rawPayload);
}

describe('a stream that leaves early', () => {
  let s: Service;
  before(async () => {
    s = await startService({ AUGMENT_BATCH_TTL_MS: '1000' });
  });
  after(() => s?.close());

  test('has batches up to k + AUGMENT_LOOKAHEAD queued or computed after sending batch k, and no more; leaves no queued job; its files expire', async (tc) => {
    const defer = cleanups(tc);
    const rec = await s.t.ctx.registry.get('ahead');
    const subsets = await s.t.ctx.registry.subsets('ahead');
    const abort = new AbortController();
    // A stream left waiting by a failed assertion is ended with the test.
    defer(() => abort.abort(new Error('client went away')));
    const gone = new Promise<never>((_, reject) => abort.signal.addEventListener('abort', () => reject(new Error('client went away'))));
    gone.catch(() => undefined);
    const stream = await s.t.ctx.epochs.open(rec, subsets, { subset: 'training', epoch: 1, format: 'npy', requestId: 'test-ahead', signal: abort.signal });
    assert.ok(stream.batches > 4 + LOOKAHEAD + 1, `the epoch has ${stream.batches} batches: too few for this test`);
    // The client stops reading at batch 2: its write never completes, so the stream sends
    // batch 3 (into its other buffer) and then waits for batch 2's.
    let sent = 0;
    let sentFour!: () => void;
    const fourSent = new Promise<void>((resolve) => (sentFour = resolve));
    const writing = stream.writeTo(async () => {
      if (++sent === 4) sentFour();
      if (sent >= 3) await gone;
    });
    writing.catch(() => undefined);
    // The fourth write, or the stream's end or error: never a wait for nothing.
    await within(
      Promise.race([fourSent, writing.then(() => Promise.reject(new Error(`the stream ended after ${sent} batches`)))]),
      'the stream sending its fourth batch',
    );
    const k = 3;
    await waitFor(() => batchesWithJobs(s, 1), { what: `a job for batch ${k + LOOKAHEAD} of epoch 1`, until: (b) => b.includes(k + LOOKAHEAD) });
    assert.deepEqual(await batchesWithJobs(s, 1), range(k + LOOKAHEAD + 1));
    assert.deepEqual(await batchesWithJobs(s, 2), [], 'the next epoch is not reached yet');

    abort.abort(new Error('client went away'));
    await assert.rejects(writing, /client went away/);
    const queued = (await s.jobs.getJobs(['waiting', 'prioritized', 'delayed'])).filter((j) => j.data.epoch === 1);
    assert.deepEqual(queued.map((j) => j.data.batch), [], 'queued jobs left behind');
    const wants = await ((await s.jobs.client) as unknown as Redis).keys(`${s.t.prefix}:augment-wants:*`);
    assert.deepEqual(wants, [], 'want counts left behind');
    // Batches already computed stay for a resumption, then expire.
    await waitFor(async () => ({ active: (await s.jobs.getJobs(['active'])).length, files: filesIn(augmentDir(s)) }), {
      what: 'no active augment job and every computed batch file expired',
      until: (v) => v.active === 0 && v.files.length === 0,
    });
  });
});

describe('augmented batches computed ahead', () => {
  let s: Service;
  before(async () => {
    s = await startService({});
  });
  after(() => s?.close());

  test("a training subset just registered has the first AUGMENT_LOOKAHEAD batches of epoch 0 computed before it is asked for", async () => {
    await waitFor(async () => (await s.jobs.getJobs(['completed'])).filter((j) => j.data.epoch === 0).length, {
      what: `the first ${LOOKAHEAD} batches of epoch 0 computed`,
      until: (n) => n === LOOKAHEAD,
    });
    assert.deepEqual(await batchesWithJobs(s, 0), range(LOOKAHEAD));
    const requested = Date.now();
    const epoch0 = await epochBytes(s, 0);
    const head = (await allJobs(s)).filter((j) => j.data.epoch === 0 && j.data.batch < LOOKAHEAD);
    for (const j of head) {
      assert.ok(j.timestamp < requested, `batch ${j.data.batch} was queued again`);
      assert.equal(s.computed.get(j.id!), 1, `batch ${j.data.batch} computed ${s.computed.get(j.id!)} times`);
    }
    // The same bytes as when nothing was precomputed (its files are gone: it is computed again).
    // Removed by their last reader as it counts itself out, just after the batch is read (not awaited by the response).
    await waitFor(() => head.filter((j) => fs.existsSync(j.data.file)).map((j) => j.data.batch), {
      what: 'read batches removed by their last reader (batches still there)',
      until: (left) => left.length === 0,
    });
    assert.deepEqual(await epochBytes(s, 0), epoch0);
  });

  test("near the end of an epoch, the next epoch's first AUGMENT_LOOKAHEAD batches are computed, and the next request finds them", async () => {
    const epoch2 = await epochBytes(s, 2);
    assert.ok(epoch2.length > LOOKAHEAD, `epoch 2 has ${epoch2.length} batches`);
    await waitFor(async () => (await s.jobs.getJobs(['completed'])).filter((j) => j.data.epoch === 3).length, {
      what: `the first ${LOOKAHEAD} batches of epoch 3 computed`,
      until: (n) => n === LOOKAHEAD,
    });
    assert.deepEqual(await batchesWithJobs(s, 3), range(LOOKAHEAD));
    const head = (await allJobs(s)).filter((j) => j.data.epoch === 3);
    assert.ok(head.every((j) => fs.existsSync(j.data.file)), "epoch 3's head is on disk");
    // Every batch of epoch 2 was read by its only reader, which removed it.
    const epoch2Jobs = (await allJobs(s)).filter((j) => j.data.epoch === 2);
    assert.equal(epoch2Jobs.length, epoch2.length);
    await waitFor(() => epoch2Jobs.filter((j) => fs.existsSync(j.data.file)).map((j) => j.data.batch), {
      what: 'every batch of epoch 2 removed by its only reader (batches still there)',
      until: (left) => left.length === 0,
    });

    const requested = Date.now();
    const epoch3 = await epochBytes(s, 3);
    for (const j of head) {
      const now = (await s.jobs.getJob(j.id!))!;
      assert.equal(now.timestamp, j.timestamp, `batch ${j.data.batch} of epoch 3 was queued again`);
      assert.ok(now.timestamp < requested);
      assert.equal(s.computed.get(j.id!), 1);
    }
    assert.deepEqual(await batchesWithJobs(s, 4), range(LOOKAHEAD), "and epoch 3's stream queued epoch 4's head");
    // Streamed again (computed again: its files were removed after the first reading), byte for byte the same.
    assert.deepEqual(await epochBytes(s, 3), epoch3);
    assert.notDeepEqual(epoch3, epoch2);
  });

  test('two clients streaming the same augmented epoch at about the same pace get the same bytes, and every batch is computed once', async () => {
    // Two trainers reading side by side (never more than a batch apart: sharing needs them
    // within AUGMENT_LOOKAHEAD batches of each other, whatever the machine's load).
    const rec = await s.t.ctx.registry.get('ahead');
    const subsets = await s.t.ctx.registry.subsets('ahead');
    const open = (id: string) => s.t.ctx.epochs.open(rec, subsets, { subset: 'training', epoch: 5, format: 'npy', requestId: id, signal: new AbortController().signal });
    // Sharing a batch needs both clients to want it before either has read it. Later batches
    // are wanted a window ahead, but the first has nothing before it: on a loaded machine
    // one client could have it computed, read and released before the other asked. So the
    // workers hold the jobs until both clients want batch 0.
    await s.holdWorkers();
    // open() makes each stream's first batch: both are opened at once, and wait for it.
    const opening = Promise.all([open('client-a'), open('client-b')]);
    opening.catch(() => undefined); // awaited below; a failed wait before it ends the test
    const redis = (await s.jobs.client) as unknown as Redis;
    await waitFor(
      async () => {
        const first = (await allJobs(s)).find((j) => j.data.epoch === 5 && j.data.batch === 0);
        return first ? Number(await redis.get(augmentWantsKey(s.t.prefix, first.id!.replace(/^aug-/, '')))) : 0;
      },
      { what: 'both clients wanting batch 0 of epoch 5', until: (n) => n === 2 },
    );
    await s.resumeWorkers();
    const streams = await within(opening, 'both streams opened');
    const sent = [0, 0];
    const ended = [false, false];
    const bodies: Buffer[][] = [[], []];
    await Promise.all(
      streams.map((st, i) =>
        st
          .writeTo(async (chunk) => {
            bodies[i]!.push(Buffer.from(chunk));
            sent[i]!++;
            await waitFor(() => sent[1 - i]! >= sent[i]! - 1 || ended[1 - i]!, { what: `client ${'ab'[1 - i]} within a batch of client ${'ab'[i]}`, everyMs: 5 });
          })
          .finally(() => (ended[i] = true)),
      ),
    );
    const [a, b] = bodies.map((chunks) => npyXs(Buffer.concat(chunks)));
    assert.deepEqual(a, b);
    assert.deepEqual(a, await epochBytes(s, 5), 'the same bytes as a stream of its own');
    const epoch5 = (await allJobs(s)).filter((j) => j.data.epoch === 5);
    assert.deepEqual(
      epoch5.map((j) => j.data.batch).sort((x, y) => x - y),
      range(a.length),
    );
    // Twice: once for the two side by side, once for the stream of its own after them.
    for (const j of epoch5) assert.equal(s.computed.get(j.id!), 2, `batch ${j.data.batch} computed ${s.computed.get(j.id!)} times`);
    await waitFor(() => epoch5.filter((j) => fs.existsSync(j.data.file)).map((j) => j.data.batch), {
      what: 'each batch removed by its last reader (batches still there)',
      until: (left) => left.length === 0,
    });
  });

  test('from_batch resumes on the same bytes, from the batches the broken stream had computed ahead', async (t) => {
    const defer = cleanups(t);
    const full = await epochBytes(s, 7);
    // Epoch 7 again, broken at its second batch: the stream has made batch 2 by then (into
    // its other buffer), so its window is batches 3..2 + LOOKAHEAD; it breaks once they are computed.
    const rec = await s.t.ctx.registry.get('ahead');
    const subsets = await s.t.ctx.registry.subsets('ahead');
    const abort = new AbortController();
    defer(() => abort.abort());
    const stream = await s.t.ctx.epochs.open(rec, subsets, { subset: 'training', epoch: 7, format: 'npy', requestId: 'test-resume', signal: abort.signal });
    const windowJobs = async () => (await allJobs(s)).filter((j) => j.data.epoch === 7 && j.data.batch >= 3 && j.data.batch <= 2 + LOOKAHEAD);
    let sent = 0;
    await assert.rejects(
      stream.writeTo(async () => {
        if (++sent < 2) return;
        await waitFor(windowJobs, {
          what: `batches 3..${2 + LOOKAHEAD} of epoch 7 computed`,
          until: (w) => w.length === LOOKAHEAD && w.every((j) => fs.existsSync(j.data.file)),
          describe: (w) => w.map((j) => ({ batch: j.data.batch, file: fs.existsSync(j.data.file) })),
        });
        throw new Error('connection reset');
      }),
      /connection reset/,
    );
    const window = await windowJobs();
    assert.ok(window.every((j) => fs.existsSync(j.data.file)), 'the computed window stays for a resumption');
    const before = new Map(window.map((j) => [j.id!, s.computed.get(j.id!)]));
    const res = await s.t.app.inject({ url: '/v1/datasets/ahead/batches?epoch=7&format=npy&from_batch=2' });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(npyXs(res.rawPayload), full.slice(2));
    for (const j of window) assert.equal(s.computed.get(j.id!), before.get(j.id!), `batch ${j.data.batch} was computed again`);
  });
});

describe('without any worker', () => {
  test('an augmented stream is a 503 problem at once, and leaves no job queued for it', async (tc) => {
    const defer = cleanups(tc);
    const t = await startTestApp({ AUGMENT_LOOKAHEAD: String(LOOKAHEAD) });
    defer(() => t.close());
    copyCorpus(testdata('corpus-mini'), path.join(t.root, 'mini'));
    const jobs = new Queue(AUGMENT_QUEUE, { connection: connectionFromUrl(t.redisUrl), prefix: t.prefix });
    defer(() => jobs.close());
    await registerDataset(t, { name: 'idle', source: { type: 'directory', path: 'mini' }, classes: ['yes', 'no'], batch_size: 2, augmentation });
    const res = await t.app.inject({ url: '/v1/datasets/idle/batches?epoch=1&format=npy' });
    assert.equal(res.statusCode, 503, res.body);
    assert.equal(res.json().type, 'https://audiofeed.dev/problems/no-workers');
    const queued = (await jobs.getJobs(['waiting', 'prioritized', 'delayed'])).filter((j) => j.data.epoch === 1);
    assert.deepEqual(queued.map((j) => j.data.batch), []);
  });
});
