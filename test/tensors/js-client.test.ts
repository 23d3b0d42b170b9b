import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ArrowBatchWriter } from '../../src/core/tensors/arrow.ts';
import { AudiofeedClient, AudiofeedError, IncompleteStreamError, type Batch } from '../../clients/js/client.ts';
import { toTfDataset, type TfModule } from '../../clients/js/tfjs.ts';
import { waitFor, within } from '../helpers/wait.ts';

const X_SHAPE = [98, 32, 1];
const X_WIDTH = 98 * 32;
const K = 4;
const TOTAL = 5;
const BATCH = 3;
const LAST_ROWS = 2; // the last batch of the epoch is short

/** Batch `i` of epoch `e` has content derived from (e, i), so resumed batches can be checked. */
function batchAt(epoch: number, i: number) {
  const rows = i === TOTAL - 1 ? LAST_ROWS : BATCH;
  const x = Float32Array.from({ length: rows * X_WIDTH }, (_, k) => epoch * 1000 + i + k / 65536);
  const y = new Float32Array(rows * K);
  for (let r = 0; r < rows; r++) y[r * K + ((i + r) % K)] = 1;
  const sampleWeight = Float32Array.from({ length: rows }, (_, r) => 1 + r / 4);
  return { x, y, sampleWeight, rows };
}

interface Seen {
  url: URL;
  authorization: string | undefined;
}

let server: Server;
let base: string;
const seen: Seen[] = [];
/** Per dataset: how many more requests should drop after sending N batches. */
const drops = new Map<string, { times: number; after: number }>();
let releaseSecond: (() => void) | null = null;

async function streamBatches(req: IncomingMessage, res: ServerResponse, url: URL, id: string) {
  const from = Number(url.searchParams.get('from_batch') ?? 0);
  const epoch = Number(url.searchParams.get('epoch') ?? 0);
  const writer = new ArrowBatchWriter({
    xShape: X_SHAPE,
    xDtype: 'float32',
    yKind: 'categorical',
    numClasses: K,
    yDtype: 'float32',
    sampleWeight: true,
    metadata: { 'audiofeed.dataset': id, 'audiofeed.from_batch': String(from) },
  });
  res.writeHead(200, {
    'content-type': 'application/vnd.apache.arrow.stream',
    'x-audiofeed-batches': String(TOTAL - from),
    'x-audiofeed-from-batch': String(from),
    'x-audiofeed-columns': 'x,y,sample_weight',
    'x-audiofeed-x-shape': JSON.stringify(X_SHAPE),
    'x-audiofeed-dtype': 'float32',
  });
  for (const c of writer.begin()) res.write(c);
  const drop = drops.get(id);
  for (let i = from; i < TOTAL; i++) {
    if (drop && drop.times > 0 && i - from === drop.after) {
      drop.times--;
      // Once the bytes already written are handed to the kernel (they reach the client
      // before the close does), cut the connection mid-epoch.
      await waitFor(() => (res.socket?.writableLength ?? 0) === 0, { what: 'the written batches flushed to the socket', everyMs: 1 });
      res.socket?.destroy();
      return;
    }
    for (const c of writer.writeBatch(batchAt(epoch, i))) res.write(c);
    if (id === 'slow' && i === from) {
      // Hold the rest of the epoch until the client has the first batch in hand.
      await new Promise<void>((r) => (releaseSecond = r));
    }
  }
  for (const c of writer.finish()) res.write(c);
  res.end();
}

before(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url!, 'http://localhost');
    seen.push({ url, authorization: req.headers.authorization });
    const m = /^\/v1\/datasets\/([^/]+)(\/batches)?$/.exec(url.pathname);
    const id = m?.[1];
    if (id === undefined || id === 'missing') {
      res.writeHead(404, { 'content-type': 'application/problem+json' });
      res.end(JSON.stringify({ type: 'https://audiofeed.dev/problems/dataset-not-found', title: 'Dataset not found', status: 404, detail: `no dataset ${id}` }));
      return;
    }
    if (!m![2]) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id, audio_classes: ['on', 'off', '_unknown_', '_silence_'], audio_input_shape: X_SHAPE }));
      return;
    }
    void streamBatches(req, res, url, id);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => {
  server.closeAllConnections();
  server.close();
});

async function collect(gen: AsyncIterable<Batch>): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of gen) out.push(b);
  return out;
}

function assertBatch(b: Batch, epoch: number, i: number) {
  const want = batchAt(epoch, i);
  assert.equal(b.index, i);
  assert.deepEqual(b.x.shape, [want.rows, ...X_SHAPE]);
  assert.ok(b.x.data instanceof Float32Array);
  assert.deepEqual(Buffer.from(b.x.data.buffer, b.x.data.byteOffset, b.x.data.byteLength), Buffer.from(want.x.buffer));
  assert.deepEqual(b.y!.shape, [want.rows, K]);
  assert.deepEqual(Array.from(b.y!.data), Array.from(want.y));
  assert.deepEqual(Array.from(b.sampleWeight!), Array.from(want.sampleWeight));
}

test('dataset() returns the dataset JSON and sends the bearer token', async () => {
  const client = new AudiofeedClient(base + '/', { token: 's3cret' });
  const ds = await client.dataset('kws');
  assert.deepEqual(ds.audio_input_shape, X_SHAPE);
  assert.equal(seen.at(-1)!.authorization, 'Bearer s3cret');
});

test('batches() decodes every batch of the Arrow stream with shapes, labels and weights', async () => {
  const client = new AudiofeedClient(base);
  const got = await collect(client.batches('kws', { subset: 'training', epoch: 2, batchSize: BATCH, shuffle: 'batch', classWeight: true }));
  assert.equal(got.length, TOTAL);
  got.forEach((b, i) => assertBatch(b, 2, i));
  const q = seen.at(-1)!.url.searchParams;
  assert.deepEqual(
    Object.fromEntries(q),
    { subset: 'training', epoch: '2', batch_size: '3', shuffle: 'batch', class_weight: 'true', from_batch: '0', format: 'arrow' },
  );
});

test('batches() starts at fromBatch', async () => {
  const got = await collect(new AudiofeedClient(base).batches('kws', { fromBatch: 3 }));
  assert.deepEqual(got.map((b) => b.index), [3, 4]);
  assertBatch(got[1]!, 0, 4);
});

test('batches() yields each batch as it arrives, before the response is complete', async () => {
  const client = new AudiofeedClient(base);
  const it = client.batches('slow', {});
  // The server holds the rest of the response until the client has the first batch: a
  // client that waited for more would never get it (the backstop fails it instead of hanging).
  const first = await within(it.next(), 'the first batch, before the rest of the response (delivered incrementally)');
  assert.equal(first.done, false);
  assertBatch(first.value as Batch, 0, 0);
  releaseSecond!();
  const rest = [];
  for await (const b of { [Symbol.asyncIterator]: () => it }) rest.push(b);
  assert.deepEqual(rest.map((b) => b.index), [1, 2, 3, 4]);
});

test('a dropped connection is resumed with from_batch and no batch is lost or repeated', async () => {
  drops.set('flaky', { times: 1, after: 2 });
  const before = seen.length;
  const got = await collect(new AudiofeedClient(base).batches('flaky', { retryDelayMs: 0 }));
  assert.deepEqual(got.map((b) => b.index), [0, 1, 2, 3, 4]);
  got.forEach((b, i) => assertBatch(b, 0, i));
  const requests = seen.slice(before).map((s) => s.url.searchParams.get('from_batch'));
  assert.deepEqual(requests, ['0', '2']);
});

test('resuming gives up with IncompleteStreamError when reconnections make no progress', async () => {
  drops.set('broken', { times: 100, after: 0 });
  const before = seen.length;
  await assert.rejects(collect(new AudiofeedClient(base).batches('broken', { retries: 2, retryDelayMs: 0 })), (err: unknown) => {
    assert.ok(err instanceof IncompleteStreamError);
    assert.equal(err.received, 0);
    assert.equal(err.expected, TOTAL);
    return true;
  });
  assert.equal(seen.length - before, 3, 'one request and two retries');
});

test('progress resets the retry budget: a stream dropping after every batch still completes', async () => {
  drops.set('choppy', { times: 100, after: 1 });
  const got = await collect(new AudiofeedClient(base).batches('choppy', { retries: 1, retryDelayMs: 0 }));
  assert.deepEqual(got.map((b) => b.index), [0, 1, 2, 3, 4]);
});

test('a problem+json response becomes AudiofeedError with status, type and detail', async () => {
  const client = new AudiofeedClient(base);
  await assert.rejects(collect(client.batches('missing', {})), (err: unknown) => {
    assert.ok(err instanceof AudiofeedError);
    assert.equal(err.status, 404);
    assert.equal(err.type, 'https://audiofeed.dev/problems/dataset-not-found');
    assert.equal(err.detail, 'no dataset missing');
    return true;
  });
  await assert.rejects(client.dataset('missing'), AudiofeedError);
});

test('toTfDataset yields {xs, ys} tensors per batch and streams the next epoch on each pass', async () => {
  const made: { values: Float32Array | Int32Array; shape: number[]; dtype: string }[] = [];
  const fakeTf: TfModule<{ shape: number[]; dtype: string }, () => AsyncIterator<{ xs: unknown; ys?: unknown }>> = {
    tensor(values, shape, dtype) {
      made.push({ values, shape, dtype });
      return { shape, dtype };
    },
    data: { generator: (fn) => fn },
  };
  const client = new AudiofeedClient(base);
  const dataset = toTfDataset(client, 'kws', { epoch: 7 }, fakeTf, { labelDtype: 'int32' });
  const drain = async () => {
    const it = dataset();
    const out = [];
    for (let r = await it.next(); !r.done; r = await it.next()) out.push(r.value);
    return out;
  };
  const first = await drain();
  assert.equal(first.length, TOTAL);
  assert.deepEqual(first[0], { xs: { shape: [BATCH, ...X_SHAPE], dtype: 'float32' }, ys: { shape: [BATCH, K], dtype: 'int32' } });
  assert.equal(made[0]!.values[0], 7000);
  assert.ok(made[1]!.values instanceof Int32Array);
  assert.equal(seen.at(-1)!.url.searchParams.get('epoch'), '7');
  await drain();
  assert.equal(seen.at(-1)!.url.searchParams.get('epoch'), '8');
});
