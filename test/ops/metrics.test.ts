/**
 * Operations: Prometheus metrics (request durations by route pattern, queue depths, job
 * durations, clips featurized, clip failures by reason, frontend backend), a registry per
 * app, request ids from X-Request-Id to the jobs, the worker logs and GET /v1/jobs/{id},
 * and the queue board.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { copyCorpus, testdata } from '../helpers/paths.ts';
import { waitFor } from '../helpers/wait.ts';
import { startWorkers, type RunningWorkers } from '../../jobs/workers.ts';
import { closeAll } from '../helpers/cleanup.ts';

let t: TestApp;
let workers: RunningWorkers;
const workerLogs: { msg: string; fields?: Record<string, unknown> }[] = [];
let jobId: string;
let progress: any;

/** Prometheus text → sample lines keyed by `name{labels}`. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

function find(s: Map<string, number>, name: string, labels: Record<string, string>): number | undefined {
  for (const [k, v] of s) {
    if (!k.startsWith(name + '{') && k !== name) continue;
    if (Object.entries(labels).every(([l, val]) => k.includes(`${l}="${val}"`))) return v;
  }
  return undefined;
}

before(async () => {
  t = await startTestApp();
  copyCorpus(testdata('corpus-mini'), path.join(t.root, 'mini'));
  fs.copyFileSync(testdata('bad-wavs', 'truncated-data.wav'), path.join(t.root, 'mini', 'yes', 'ffffffff_nohash_0.wav'));
  workers = startWorkers({
    redisUrl: t.redisUrl,
    prefix: t.prefix,
    concurrency: 2,
    frontendBackend: 'auto',
    lockMs: 60_000,
    log: (msg, fields) => workerLogs.push({ msg, fields }),
  });
  // Connected before the featurization is asked for (with no worker it would be a 503).
  await workers.ready();
  const reg = await t.app.inject({
    method: 'POST',
    url: '/v1/datasets',
    payload: { name: 'mini', source: { type: 'directory', path: 'mini' }, classes: ['yes', 'no', '_unknown_', '_silence_'], validation_split: 0.2 },
  });
  assert.equal(reg.statusCode, 201, reg.body);
  const res = await t.app.inject({ method: 'POST', url: '/v1/datasets/mini/featurize', headers: { 'x-request-id': 'trace-featurize-42' }, payload: {} });
  assert.equal(res.statusCode, 202, res.body);
  assert.equal(res.headers['x-request-id'], 'trace-featurize-42');
  jobId = res.json().job_id;
  progress = await waitFor(async () => (await t.app.inject({ url: `/v1/jobs/${jobId}` })).json(), {
    what: `featurization ${jobId} finished`,
    until: (p) => p.state === 'completed' || p.state === 'failed',
  });
  assert.equal(progress.state, 'completed');
  // A job is completed in Redis before its worker hears of it: the worker logs it and
  // records its duration and clips after that (its 'completed' event). Every job's record is awaited.
  await waitFor(
    async () => {
      const s = samples((await t.app.inject({ url: '/metrics' })).body);
      return {
        featurize: find(s, 'audiofeed_job_duration_seconds_count', { queue: 'featurize', status: 'completed' }) ?? 0,
        shards: find(s, 'audiofeed_job_duration_seconds_count', { queue: 'featurize-shards', status: 'completed' }) ?? 0,
        logged: workerLogs.some((l) => l.fields?.queue === 'featurize' && l.fields?.event === 'completed'),
      };
    },
    { what: 'the workers recorded every job of the featurization', until: (m) => m.featurize >= 1 && m.shards >= progress.shards_total && m.logged },
  );
});
after(() =>
  closeAll(
    () => workers?.close(),
    () => t?.close(),
  ),
);

describe('request ids', () => {
  test('X-Request-Id is honoured and echoed; a missing or unusable one is replaced by a UUID', async () => {
    assert.equal((await t.app.inject({ url: '/healthz', headers: { 'x-request-id': 'abc.DEF_1-2' } })).headers['x-request-id'], 'abc.DEF_1-2');
    for (const headers of [{}, { 'x-request-id': 'has spaces in it' }, { 'x-request-id': 'x'.repeat(200) }]) {
      const id = (await t.app.inject({ url: '/healthz', headers })).headers['x-request-id'];
      assert.match(String(id), /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    }
  });
  test('GET /v1/jobs/{id} names the request that created the job', () => {
    assert.equal(progress.request_id, 'trace-featurize-42');
  });
  test('the workers log the request id with every job they run', () => {
    const jobLines = workerLogs.filter((l) => l.fields?.jobId !== undefined);
    assert.ok(jobLines.length >= 4, JSON.stringify(workerLogs.slice(0, 5)));
    for (const l of jobLines) {
      assert.equal(l.fields!.requestId, 'trace-featurize-42', l.msg);
      assert.match(l.msg, /request_id=trace-featurize-42/);
    }
    const events = new Set(jobLines.map((l) => `${l.fields!.queue}:${l.fields!.event}`));
    for (const e of ['featurize-shards:active', 'featurize-shards:completed', 'featurize:active', 'featurize:completed']) assert.ok(events.has(e), e);
  });
});

describe('/metrics', () => {
  test('request durations by route pattern, method and status', async () => {
    await t.app.inject({ url: '/v1/datasets/mini' });
    await t.app.inject({ url: '/v1/datasets/mini' });
    await t.app.inject({ url: '/v1/datasets/nope' });
    const res = await t.app.inject({ url: '/metrics' });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    const s = samples(res.body);
    const labels = { route: '/v1/datasets/:id', method: 'GET' };
    assert.equal(find(s, 'audiofeed_http_request_duration_seconds_count', { ...labels, status: '200' }), 2);
    assert.equal(find(s, 'audiofeed_http_request_duration_seconds_count', { ...labels, status: '404' }), 1);
    assert.ok(![...s.keys()].some((k) => k.includes('route="/v1/datasets/mini"')), 'routes are patterns, not URLs');
  });

  test('queue depths, job durations, clips featurized, failures by reason, frontend backend', async () => {
    const s = samples((await t.app.inject({ url: '/metrics' })).body);
    const shards = progress.shards_total as number;
    assert.equal(find(s, 'audiofeed_queue_jobs', { queue: 'featurize', state: 'completed' }), 1);
    assert.equal(find(s, 'audiofeed_queue_jobs', { queue: 'featurize-shards', state: 'completed' }), shards);
    assert.equal(find(s, 'audiofeed_queue_jobs', { queue: 'featurize-shards', state: 'waiting' }), 0);
    assert.equal(find(s, 'audiofeed_queue_jobs', { queue: 'featurize-shards', state: 'prioritized' }), 0);
    assert.equal(find(s, 'audiofeed_queue_jobs', { queue: 'augment-batches', state: 'waiting' }), 0);

    const count = find(s, 'audiofeed_job_duration_seconds_count', { queue: 'featurize-shards', status: 'completed' });
    assert.equal(count, shards);
    assert.equal(find(s, 'audiofeed_job_duration_seconds_bucket', { queue: 'featurize-shards', status: 'completed', le: '+Inf' }), shards);
    assert.equal(find(s, 'audiofeed_job_duration_seconds_count', { queue: 'featurize', status: 'completed' }), 1);
    const buckets = [...s].filter(([k]) => k.startsWith('audiofeed_job_duration_seconds_bucket{') && k.includes('queue="featurize-shards"'));
    assert.equal(buckets.length, 15);
    for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i]![1] >= buckets[i - 1]![1], 'cumulative buckets');
    const sum = find(s, 'audiofeed_job_duration_seconds_sum', { queue: 'featurize-shards', status: 'completed' });
    assert.ok(sum !== undefined && sum >= 0, `job duration sum ${sum}`);

    const backend = (await t.app.inject({ url: '/v1/info' })).json().frontend_backend;
    assert.equal(find(s, 'audiofeed_frontend_backend_info', { backend }), 1);
    const failures = progress.failures as { reason: string }[];
    assert.ok(failures.length >= 1);
    assert.equal(find(s, 'audiofeed_clips_featurized_total', { backend }), progress.clips_total - failures.length);
    const byReason = new Map<string, number>();
    for (const f of failures) byReason.set(f.reason, (byReason.get(f.reason) ?? 0) + 1);
    for (const [reason, n] of byReason) assert.equal(find(s, 'audiofeed_clip_failures_total', { reason }), n, reason);
    assert.equal(find(s, 'audiofeed_metrics_redis_up', {}), 1);
    const rss = find(s, 'audiofeed_process_resident_memory_bytes', {});
    assert.ok(rss !== undefined && rss > 0, `rss ${rss}`);
  });

  test('a repeated featurization reuses the shards and counts no clips again', async () => {
    const before = samples((await t.app.inject({ url: '/metrics' })).body);
    const res = await t.app.inject({ method: 'POST', url: '/v1/datasets/mini/featurize', payload: {} });
    assert.equal(res.json().created, false);
    const after = samples((await t.app.inject({ url: '/metrics' })).body);
    for (const name of ['audiofeed_clips_featurized_total', 'audiofeed_clip_failures_total']) {
      const pick = (m: Map<string, number>) => [...m].filter(([k]) => k.startsWith(name)).sort();
      assert.deepEqual(pick(after), pick(before));
    }
  });

  test('every app has its own registry', async () => {
    const other = await startTestApp();
    try {
      await other.app.inject({ url: '/v1/info' });
      const mine = (await t.app.inject({ url: '/metrics' })).body;
      const theirs = samples((await other.app.inject({ url: '/metrics' })).body);
      assert.equal(find(theirs, 'audiofeed_http_request_duration_seconds_count', { route: '/v1/info', status: '200' }), 1);
      assert.equal(find(theirs, 'audiofeed_http_request_duration_seconds_count', { route: '/v1/datasets/:id' }), undefined);
      assert.equal(find(theirs, 'audiofeed_queue_jobs', { queue: 'featurize', state: 'completed' }), 0);
      assert.ok(mine.includes('route="/v1/datasets/:id"'));
    } finally {
      await other.close();
    }
  });
});

describe('queue board', () => {
  test('is mounted at /admin/queues with the three queues and their jobs', async () => {
    const page = await t.app.inject({ url: '/admin/queues' });
    assert.equal(page.statusCode, 200);
    assert.match(String(page.headers['content-type']), /text\/html/);
    const api = (await t.app.inject({ url: '/admin/queues/api/queues' })).json();
    const names = api.queues.map((q: { name: string }) => q.name).sort();
    assert.deepEqual(names, ['augment-batches', 'featurize', 'featurize-shards']);
    const featurize = api.queues.find((q: { name: string }) => q.name === 'featurize');
    assert.equal(featurize.counts.completed, 1);
  });
});
