/**
 * The Node client against a hostile or misconfigured server (issue #21 item 7, as for the
 * Python client): the bearer token never follows a redirect to another origin (whatever
 * the fetch implementation does), a stream that declares more than maxBatchBytes or
 * contradicts its X-Audiofeed-X-Shape / -Dtype headers is the client's own
 * AudiofeedProtocolError before anything is allocated (and is not retried), and a
 * reconnection answered from another version of the dataset is a DatasetChangedError.
 * Stand-in servers on loopback sockets, Arrow bytes from the service's own writer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Message } from 'apache-arrow';
import { ArrowBatchWriter } from '../../src/core/tensors/arrow.ts';
import { AudiofeedClient, AudiofeedProtocolError, DatasetChangedError, type Batch } from '../../clients/js/client.ts';
import { cleanups } from '../helpers/cleanup.ts';

const X_SHAPE = [4, 2, 1];

/** An Arrow epoch of `n` batches of 3 rows (uint16 x, scalar y): the schema, each batch, the end marker. */
function epochBytes(n: number, from = 0) {
  const w = new ArrowBatchWriter({ xShape: X_SHAPE, xDtype: 'uint16', yKind: 'scalar', numClasses: 2, yDtype: 'uint16', sampleWeight: false, metadata: { 'audiofeed.from_batch': String(from) } });
  const schema = Buffer.concat(w.begin());
  const batches = Array.from({ length: n - from }, (_, i) => Buffer.concat(w.writeBatch({ x: new Uint16Array(3 * 8).fill(from + i), y: new Uint16Array(3), rows: 3 })));
  return { schema, batches, end: Buffer.concat(w.finish()) };
}

const STREAM_HEADERS = {
  'content-type': 'application/vnd.apache.arrow.stream',
  'x-audiofeed-columns': 'x,y',
  'x-audiofeed-x-shape': JSON.stringify(X_SHAPE),
  'x-audiofeed-dtype': 'uint16',
  'x-audiofeed-dataset-version': 'v1',
};

async function serve(defer: (fn: () => unknown) => void, handler: http.RequestListener): Promise<string> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  defer(() => new Promise<void>((r) => server.close(() => r())));
  defer(() => server.closeAllConnections());
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function drain(it: AsyncIterable<Batch>): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of it) out.push(b);
  return out;
}

/**
 * A fetch that follows redirects itself and sends the same headers everywhere (as many
 * HTTP libraries do), unless asked for `redirect: 'manual'`.
 */
const naiveFetch: typeof fetch = async (input, init = {}) => {
  let url = String(input);
  for (let hop = 0; hop < 10; hop++) {
    const res = await fetch(url, { ...init, redirect: 'manual' });
    const location = res.headers.get('location');
    if (init.redirect === 'manual' || res.status < 300 || res.status >= 400 || !location) return res;
    url = new URL(location, url).href;
  }
  throw new Error('too many redirects');
};

test('the token goes to the service and same-origin redirects, never to another origin', async (t) => {
  const defer = cleanups(t);
  const seen: [string, string, string | null][] = [];
  const other = await serve(defer, (req, res) => {
    seen.push(['other', req.url!, req.headers.authorization ?? null]);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ id: 'elsewhere' }));
  });
  const service = await serve(defer, (req, res) => {
    seen.push(['service', req.url!, req.headers.authorization ?? null]);
    if (req.url === '/v1/datasets/d') res.writeHead(307, { location: '/v2/datasets/d' });
    else res.writeHead(302, { location: `${other}/v1/datasets/d` });
    res.end();
  });
  for (const impl of [undefined, naiveFetch]) {
    seen.length = 0;
    const client = new AudiofeedClient(service, { token: 'secret', ...(impl ? { fetch: impl } : {}) });
    assert.deepEqual(await client.dataset('d'), { id: 'elsewhere' });
    assert.deepEqual(seen, [
      ['service', '/v1/datasets/d', 'Bearer secret'],
      ['service', '/v2/datasets/d', 'Bearer secret'],
      ['other', '/v1/datasets/d', null],
    ], impl ? 'with a fetch that would forward headers' : 'with the global fetch');
  }
});

test('redirect loops and redirects to other schemes are the client own errors', async (t) => {
  const defer = cleanups(t);
  const loop = await serve(defer, (_req, res) => {
    res.writeHead(302, { location: '/again' });
    res.end();
  });
  await assert.rejects(new AudiofeedClient(loop).dataset('d'), (err: Error) => err instanceof AudiofeedProtocolError && /redirected more than 5 times/.test(err.message));
  const file = await serve(defer, (_req, res) => {
    res.writeHead(301, { location: 'file:///etc/passwd' });
    res.end();
  });
  await assert.rejects(new AudiofeedClient(file).dataset('d'), /redirected to file: \(only http and https are followed\)/);
});

test('an Arrow message declaring a body over maxBatchBytes is refused before its body, and not retried', async (t) => {
  const defer = cleanups(t);
  const { schema, batches } = epochBytes(2);
  // The first record batch's metadata re-encoded to claim a 10¹² byte body, then a few bytes.
  const prefix = batches[0]!.readInt32LE(4);
  const real = Message.decode(batches[0]!.subarray(8, 8 + prefix));
  const meta = Buffer.from(Message.encode(Message.from(real.header() as never, 1e12)));
  const padded = Buffer.concat([meta, Buffer.alloc((8 - (meta.length % 8)) % 8)]);
  const head = Buffer.alloc(8);
  head.writeUInt32LE(0xffffffff, 0);
  head.writeInt32LE(padded.length, 4);
  let requests = 0;
  const url = await serve(defer, (_req, res) => {
    requests++;
    res.writeHead(200, { ...STREAM_HEADERS, 'x-audiofeed-batches': '2' });
    res.end(Buffer.concat([schema, head, padded, Buffer.alloc(64)]));
  });
  const client = new AudiofeedClient(url, { maxBatchBytes: 1 << 20 });
  await assert.rejects(
    drain(client.batches('d', { retryDelayMs: 0 })),
    (err: Error) => err instanceof AudiofeedProtocolError && /an Arrow message declares a body of 1000000000000 bytes; maxBatchBytes is 1048576/.test(err.message),
  );
  assert.equal(requests, 1, 'a protocol error is not a cut: no retry');

  // A genuine batch above a small limit is refused the same way.
  const small = await serve(defer, (_req, res) => {
    res.writeHead(200, { ...STREAM_HEADERS, 'x-audiofeed-batches': '2' });
    res.end(Buffer.concat([schema, ...batches]));
  });
  await assert.rejects(drain(new AudiofeedClient(small, { maxBatchBytes: 16 }).batches('d')), /declares a body of \d+ bytes; maxBatchBytes is 16/);
});

test('headers that announce an impossible or other shape or dtype are refused before the body is read', async (t) => {
  const defer = cleanups(t);
  const { schema, batches, end } = epochBytes(2);
  const body = Buffer.concat([schema, ...batches, end]);
  let headers: Record<string, string> = {};
  const url = await serve(defer, (_req, res) => {
    res.writeHead(200, { ...STREAM_HEADERS, 'x-audiofeed-batches': '2', ...headers });
    res.end(body);
  });
  const client = new AudiofeedClient(url, { maxBatchBytes: 1 << 20 });
  const cases: [Record<string, string>, Record<string, unknown>, RegExp][] = [
    [{ 'x-audiofeed-x-shape': '[1000000,1000000,1]' }, {}, /announces samples of 2000000000000 bytes; maxBatchBytes is 1048576/],
    [{ 'x-audiofeed-x-shape': 'lots' }, {}, /no valid X-Audiofeed-X-Shape header/],
    [{ 'x-audiofeed-dtype': 'complex128' }, {}, /no valid X-Audiofeed-Dtype header/],
    [{}, { dtype: 'int8' }, /asked for dtype int8, the batch stream announces uint16/],
    // The headers say one shape, the batches hold another.
    [{ 'x-audiofeed-x-shape': '[2,4,1]' }, {}, /batch 0: x is uint16 \[3,4,2,1\], the headers announce uint16 \[rows, 2, 4, 1\]/],
    [{ 'x-audiofeed-dtype': 'float32' }, {}, /batch 0: x is uint16 \[3,4,2,1\], the headers announce float32/],
  ];
  for (const [h, params, why] of cases) {
    headers = h;
    await assert.rejects(drain(client.batches('d', { retryDelayMs: 0, ...params })), (err: Error) => err instanceof AudiofeedProtocolError && why.test(err.message), JSON.stringify(h));
  }
  headers = {};
  assert.equal((await drain(client.batches('d'))).length, 2, 'the honest stream reads');
});

test('a reconnection answered from another version of the dataset is a DatasetChangedError', async (t) => {
  const defer = cleanups(t);
  let version = 'v1';
  const url = await serve(defer, (req, res) => {
    const from = Number(new URL(req.url!, 'http://x').searchParams.get('from_batch') ?? 0);
    const { schema, batches, end } = epochBytes(3, from);
    res.writeHead(200, { ...STREAM_HEADERS, 'x-audiofeed-batches': String(3 - from), 'x-audiofeed-dataset-version': version });
    if (from === 0) {
      // One batch and the start of the next, then the body ends; the dataset is reloaded meanwhile.
      res.end(Buffer.concat([schema, batches[0]!, batches[1]!.subarray(0, 20)]));
      version = 'v2';
      return;
    }
    res.end(Buffer.concat([schema, ...batches, end]));
  });
  const got: number[] = [];
  await assert.rejects(
    (async () => {
      for await (const b of new AudiofeedClient(url).batches('d', { retryDelayMs: 0 })) got.push(b.index);
    })(),
    (err: Error) => err instanceof DatasetChangedError && /dataset version v2; before: .*dataset version v1/.test(err.message),
  );
  assert.deepEqual(got, [0]);
});

test('an answer larger than the client reads is refused, not buffered', async (t) => {
  const defer = cleanups(t);
  const url = await serve(defer, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(200 * 1024 * 1024) });
    res.write('{"id": "');
    // and never the rest
  });
  await assert.rejects(new AudiofeedClient(url).dataset('d'), (err: Error) => err instanceof AudiofeedProtocolError && /an answer of 209715200 bytes/.test(err.message));
});
