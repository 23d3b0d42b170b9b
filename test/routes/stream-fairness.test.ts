/**
 * Issue #21 item 8: a fair share of STREAM_MEMORY_BUDGET per client, and a floor under
 * a reader's pace. One client (token, or address without auth) may hold at most
 * STREAM_CLIENT_BUDGET of the budget, so a few slow readers cannot keep everyone else at
 * 503; a reader that takes less than STREAM_MIN_BYTES_PER_S over a window spent waiting
 * on it is cut off, logged and counted in /metrics.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { startTestApp, startTestWorkers, registerDataset, type TestApp } from '../helpers/app.ts';
import { smallCorpus } from '../helpers/wav.ts';
import { waitFor } from '../helpers/wait.ts';
import type { RunningWorkers } from '../../jobs/workers.ts';
import { StreamMemoryBudget, ThroughputFloor, streamReservationBytes } from '../../src/services/stream-budget.ts';

// One float32 row of (98, 32, 1) + 3 classes.
const ROW = 98 * 32 * 4 + 12 + 4;

test('StreamMemoryBudget: a client is held to its share; others are served, also past its waiting stream', async () => {
  const b = new StreamMemoryBudget(100, 60_000, 50);
  const a1 = await b.reserve(40, undefined, 'a');
  // A client holding nothing may always have one stream, even one above its share.
  const c1 = await b.reserve(55, undefined, 'c');
  c1.release();
  // a's second stream would take it past its share: it waits...
  let a2Granted = false;
  const a2 = b.reserve(20, undefined, 'a').then((r) => ((a2Granted = true), r));
  // ...while another client's stream that fits is served at once, not queued behind it.
  const b1 = await b.reserve(30, undefined, 'b');
  assert.equal(a2Granted, false);
  assert.equal(b.heldBy('a'), 40);
  assert.equal(b.heldBy('b'), 30);
  // a's first stream ends: its waiting stream is granted.
  a1.release();
  const r = await a2;
  assert.equal(b.heldBy('a'), 20);
  r.release();
  b1.release();
  assert.equal(b.inUse, 0);

  // Without waiting: a 503 naming STREAM_CLIENT_BUDGET (client share) or STREAM_MEMORY_BUDGET (the whole budget).
  const now = new StreamMemoryBudget(100, 0, 50);
  const held = await now.reserve(45, undefined, 'a');
  await assert.rejects(now.reserve(10, undefined, 'a'), (err: Error & { extra?: Record<string, unknown> }) => {
    assert.equal(err.extra?.setting, 'STREAM_CLIENT_BUDGET');
    assert.equal(err.extra?.limit, 50);
    assert.equal(err.extra?.in_use, 45);
    return true;
  });
  const other = await now.reserve(50, undefined, 'b');
  await assert.rejects(now.reserve(10, undefined, 'c'), (err: Error & { extra?: Record<string, unknown> }) => err.extra?.setting === 'STREAM_MEMORY_BUDGET');
  assert.deepEqual(now.stats.refused, { budget: 1, client: 1 });
  held.release();
  other.release();
});

test('ThroughputFloor: only time spent waiting on the reader counts; a window below the floor cuts it off', () => {
  const f = new ThroughputFloor(1000, 10_000);
  // Waiting on the producer (no write pending) never counts, however long.
  assert.equal(f.sample(0, 0, false), false);
  assert.equal(f.sample(60_000, 0, false), false);
  // Waiting on the reader: 20 KB in 10 s is 2000 B/s, above the floor; the window slides on.
  assert.equal(f.sample(60_000, 0, true), false);
  assert.equal(f.sample(65_000, 10_000, true), false);
  assert.equal(f.sample(70_000, 20_000, true), false);
  // The next 10 s: 5 KB, 500 B/s: too slow.
  assert.equal(f.sample(75_000, 22_000, true), false);
  assert.equal(f.sample(80_000, 25_000, true), true);
  // A pause in waiting restarts the window.
  const g = new ThroughputFloor(1000, 10_000);
  g.sample(0, 0, true);
  g.sample(9_000, 0, false);
  assert.equal(g.sample(10_000, 0, true), false);
  assert.equal(g.sample(19_999, 0, true), false);
  assert.equal(g.sample(20_000, 0, true), true);
  // 0 turns the floor off.
  assert.equal(new ThroughputFloor(0, 10).sample(1e9, 0, true), false);
});

describe('per-client share and the reader floor, over HTTP', () => {
  let t: TestApp;
  let workers: RunningWorkers;
  let base: string;
  const lines: Record<string, unknown>[] = [];
  before(async () => {
    const sink = new Writable({
      write(chunk, _enc, done) {
        for (const l of String(chunk).split('\n')) if (l.trim()) lines.push(JSON.parse(l));
        done();
      },
    });
    t = await startTestApp(
      {
        // Batches of 300 rows are 3.7 MB: a reader that takes nothing leaves a write pending
        // once the socket buffers are full. The floor is far above what a stalled reader takes.
        MAX_BATCH_BYTES: String(16 * 1024 * 1024),
        STREAM_MEMORY_BUDGET: String(64 * 1024 * 1024),
        STREAM_CLIENT_BUDGET: String(streamReservationBytes(300 * ROW) + 1024),
        STREAM_BUDGET_WAIT_MS: '200',
        STREAM_MIN_BYTES_PER_S: String(64 * 1024),
        STREAM_MIN_THROUGHPUT_WINDOW_MS: '1000',
      },
      { logger: pino({ level: 'info' }, sink) },
    );
    smallCorpus(t.root);
    workers = startTestWorkers(t);
    await registerDataset(t, { name: 'small', source: { type: 'directory', path: '.' }, classes: ['yes', 'no', 'maybe'], batch_size: 2 });
    // The shards exist before the streams start (a cold stream would wait on the workers, not on its reader).
    assert.equal((await t.app.inject({ url: '/v1/datasets/small/batches?batch_size=14' })).statusCode, 200);
    base = await t.app.listen({ port: 0, host: '127.0.0.1' });
  });
  after(async () => {
    await workers.close();
    await t.close();
  });

  test("a client's second stream beyond its share is a 503 naming STREAM_CLIENT_BUDGET; another client is served meanwhile", async () => {
    const mine = await t.ctx.streamBudget.reserve(streamReservationBytes(300 * ROW), undefined, 'addr:10.0.0.1');
    try {
      const res = await t.app.inject({ url: '/v1/datasets/small/batches?batch_size=4', remoteAddress: '10.0.0.1' });
      assert.equal(res.statusCode, 503, res.body);
      assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
      assert.equal(res.json().setting, 'STREAM_CLIENT_BUDGET');
      assert.ok(Number(res.headers['retry-after']) >= 1);
      const other = await t.app.inject({ url: '/v1/datasets/small/batches?batch_size=4', remoteAddress: '10.0.0.2' });
      assert.equal(other.statusCode, 200, other.body);
    } finally {
      mine.release();
    }
    assert.equal((await t.app.inject({ url: '/v1/datasets/small/batches?batch_size=4', remoteAddress: '10.0.0.1' })).statusCode, 200);
    const metrics = (await t.app.inject({ url: '/metrics' })).body;
    assert.match(metrics, /^audiofeed_stream_budget_refusals_total\{reason="client"\} 1$/m);
  });

  test('a reader that takes nothing is cut off below STREAM_MIN_BYTES_PER_S: logged, counted, its budget given back', async () => {
    const url = new URL(`${base}/v1/datasets/small/batches?batch_size=300&steps_per_epoch=20&format=npy`);
    const sock = net.connect(Number(url.port), url.hostname);
    sock.on('error', () => undefined);
    let closed = false;
    sock.on('close', () => (closed = true));
    // Sends the request and never reads: the socket buffers fill, then the stream waits on it.
    sock.pause();
    sock.write(`GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`);
    try {
      await waitFor(() => t.ctx.streamBudget.stats.trickleClosed, { what: 'the trickling stream closed (counted)', until: (n) => n === 1, everyMs: 20 });
      sock.resume(); // drain what the kernel holds, to see the connection's end
      await waitFor(() => closed, { what: 'the trickling socket closed', everyMs: 20 });
    } finally {
      sock.destroy();
    }
    await waitFor(() => t.ctx.streamBudget.inUse, { what: 'every stream reservation given back', until: (n) => n === 0, everyMs: 20 });
    assert.ok(lines.some((l) => /STREAM_MIN_BYTES_PER_S/.test(String(l.msg)) && l.level === 40), 'logged at warn');
    const metrics = (await t.app.inject({ url: '/metrics' })).body;
    assert.match(metrics, /^audiofeed_stream_trickle_closes_total 1$/m);
  });

  test('a reader that keeps up streams the whole epoch', async () => {
    const res = await fetch(`${base}/v1/datasets/small/batches?batch_size=300&steps_per_epoch=5&format=npy`);
    assert.equal(res.status, 200);
    const body = Buffer.from(await res.arrayBuffer());
    assert.ok(body.length > 5 * 300 * ROW * 0.9, `${body.length} bytes`);
    assert.equal(t.ctx.streamBudget.stats.trickleClosed, 1);
  });
});
