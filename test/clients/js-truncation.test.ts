/**
 * The Node client never takes a cut Arrow stream for a whole epoch (issue #11, item 5).
 *
 * A real epoch is captured from the service (loopback port, BullMQ workers, corpus-mini)
 * and replayed by a raw TCP server cut at many byte offsets: inside the schema, inside a
 * record batch's metadata or body, exactly on a message boundary, one byte before the end
 * of the last batch; with the connection dropped inside a chunked body, with a body that
 * simply stops when the connection closes (HTTP cannot see that cut), and with a chunked
 * body that ends properly after fewer record batches than X-Audiofeed-Batches announced
 * (the Arrow stream then even ends with its end-of-stream marker).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { MessageReader } from 'apache-arrow';
import { AudiofeedClient, IncompleteStreamError, type Batch } from '../../clients/js/client.ts';
import { BATCH_SIZE, registerCorpus, startLiveService, type LiveService } from './live-service.ts';

const ID = 'corpus-mini';
let live: LiveService;

interface Capture {
  headers: Record<string, string>;
  body: Buffer;
  /** End of the schema message. */
  schemaEnd: number;
  /** Start of each record batch message, then the start of the end-of-stream marker. */
  batchStarts: number[];
}
let epoch: Capture;
/** The epoch decoded straight from the service: x and y bytes per batch. */
let want: { x: Buffer; y: Buffer }[];

/** Message boundaries of an Arrow IPC stream: continuation, metadata length, metadata, body. */
function messageEnds(body: Buffer): number[] {
  const ends: number[] = [];
  let pos = 0;
  while (pos + 8 <= body.length && body.readInt32LE(pos + 4) !== 0) {
    const metadataLength = body.readInt32LE(pos + 4);
    const message = new MessageReader(body.subarray(pos)).readMessage();
    assert.ok(message, `no Arrow message at byte ${pos}`);
    pos += 8 + metadataLength + message.bodyLength;
    ends.push(pos);
  }
  return ends;
}

function bytesOf(b: Batch) {
  const view = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  return { x: Buffer.from(view(b.x.data)), y: Buffer.from(view(b.y!.data)) };
}

before(
  async () => {
    live = await startLiveService();
    await registerCorpus(live, ID);
    const res = await fetch(`${live.baseUrl}/v1/datasets/${ID}/batches?subset=training&epoch=0&batch_size=${BATCH_SIZE}&format=arrow`);
    assert.equal(res.status, 200);
    const headers: Record<string, string> = {};
    res.headers.forEach((v, k) => {
      if (k.startsWith('x-audiofeed-')) headers[k] = v;
    });
    const body = Buffer.from(await res.arrayBuffer());
    const ends = messageEnds(body);
    const n = Number(headers['x-audiofeed-batches']);
    assert.equal(ends.length, n + 1, 'a schema message, then one record batch message per batch');
    epoch = { headers, body, schemaEnd: ends[0]!, batchStarts: ends };
    want = [];
    for await (const b of new AudiofeedClient(live.baseUrl).batches(ID, { epoch: 0, batchSize: BATCH_SIZE })) want.push(bytesOf(b));
    assert.equal(want.length, n);
  },
  { timeout: 240_000 },
);
after(
  async () => {
    await live?.close();
  },
  { timeout: 240_000 },
);

type Framing = 'chunked' | 'close' | 'ended';
interface ReplayOptions {
  /** Per request (by from_batch): null for the whole response, or where and how to stop. */
  cut?: (fromBatch: number) => { offset: number; framing: Framing } | null;
  /** X-Audiofeed-Batches to send: the true count by default, null for none. */
  announce?: (fromBatch: number) => number | null;
  /** Send only this many record batches, then the end-of-stream marker. */
  keep?: number;
}

/**
 * A raw HTTP/1.1 server replaying the captured epoch from `from_batch` on (the schema, then
 * the record batches from that one), so the response bytes and framing are under control.
 */
async function replay(options: ReplayOptions, run: (base: string, requests: number[]) => Promise<void>): Promise<void> {
  const requests: number[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let head = '';
    socket.on('data', (d) => {
      head += d.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      const target = /^GET (\S+) HTTP/.exec(head)?.[1] ?? '/';
      const from = Number(new URL(target, 'http://x').searchParams.get('from_batch') ?? 0);
      requests.push(from);
      const n = epoch.batchStarts.length - 1;
      const s = epoch.batchStarts;
      const body = Buffer.concat([
        epoch.body.subarray(0, epoch.schemaEnd),
        epoch.body.subarray(s[from]!, options.keep === undefined ? undefined : s[from + options.keep]),
        options.keep === undefined ? Buffer.alloc(0) : epoch.body.subarray(s[n]!), // the end-of-stream marker
      ]);
      const cut = options.cut?.(from) ?? null;
      const announced = options.announce ? options.announce(from) : n - from;
      const headers = Object.entries(epoch.headers)
        .filter(([k]) => k !== 'x-audiofeed-batches' && k !== 'x-audiofeed-from-batch')
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('');
      const framing = cut?.framing ?? 'ended';
      socket.write(
        'HTTP/1.1 200 OK\r\ncontent-type: application/vnd.apache.arrow.stream\r\n' +
          headers +
          `x-audiofeed-from-batch: ${from}\r\n` +
          (announced === null ? '' : `x-audiofeed-batches: ${announced}\r\n`) +
          (framing === 'close' ? 'connection: close\r\n' : 'transfer-encoding: chunked\r\nconnection: close\r\n') +
          '\r\n',
      );
      const data = cut ? body.subarray(0, cut.offset) : body;
      if (framing === 'close') {
        socket.end(data);
        return;
      }
      if (data.length > 0) socket.write(Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from('\r\n')]));
      if (framing === 'ended') socket.end('0\r\n\r\n');
      else socket.end(() => socket.destroy()); // the chunked body never gets its last chunk
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    await run(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests);
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  }
}

/** Batches read before the stream failed, and how it failed (null: it did not). */
async function read(base: string, params: Parameters<AudiofeedClient['batches']>[1]): Promise<{ got: { x: Buffer; y: Buffer }[]; error: unknown }> {
  const got: { x: Buffer; y: Buffer }[] = [];
  try {
    for await (const b of new AudiofeedClient(base).batches(ID, { epoch: 0, batchSize: BATCH_SIZE, retryDelayMs: 0, ...params })) got.push(bytesOf(b));
  } catch (error) {
    return { got, error };
  }
  return { got, error: null };
}

function assertPrefix(got: { x: Buffer; y: Buffer }[], count: number) {
  assert.equal(got.length, count);
  got.forEach((b, i) => {
    assert.ok(b.x.equals(want[i]!.x), `x of batch ${i}`);
    assert.ok(b.y.equals(want[i]!.y), `y of batch ${i}`);
  });
}

describe('Node client: a cut batch stream is an error, never a short epoch', { timeout: 240_000 }, () => {
  test('the replay of the captured epoch decodes to the service epoch (the control)', async () => {
    await replay({}, async (base) => {
      const { got, error } = await read(base, { retries: 0 });
      assert.equal(error, null);
      assertPrefix(got, want.length);
    });
  });

  test('a stream cut at any byte offset throws IncompleteStreamError after the whole batches before it', async () => {
    const s = epoch.batchStarts;
    const n = s.length - 1;
    const offsets = [
      3, // inside the schema message's prefix
      epoch.schemaEnd - 5, // inside the schema's metadata
      epoch.schemaEnd, // right after the schema
      s[0]! + 20, // inside the first record batch's metadata
      Math.floor((s[0]! + s[1]!) / 2), // inside its body
      s[1]!, // exactly on the boundary after batch 0
      s[1]! + 9, // inside batch 1's metadata
      s[n]! - 1, // one byte short of the last batch
    ];
    assert.ok(n >= 3, `${n} batches`);
    for (const offset of offsets) {
      const whole = s.slice(1).filter((end) => end <= offset).length;
      for (const framing of ['chunked', 'close', 'ended'] as const) {
        await replay({ cut: () => ({ offset, framing }) }, async (base) => {
          const { got, error } = await read(base, { retries: 0 });
          const where = `offset ${offset}, framing ${framing}`;
          assert.ok(error instanceof IncompleteStreamError, `${where}: ${String(error)}`);
          assert.equal(error.received, whole, where);
          assert.equal(error.expected, n, where);
          assert.match(error.message, new RegExp(`^batch stream ended early: ${whole} of ${n} batches arrived`), where);
          assertPrefix(got, whole);
        });
      }
    }
  });

  test('fewer record batches than announced throw although the Arrow stream ends with its end marker', async () => {
    const n = epoch.batchStarts.length - 1;
    for (const kept of [0, 1, n - 1]) {
      await replay({ keep: kept }, async (base) => {
        const { got, error } = await read(base, { retries: 0 });
        assert.ok(error instanceof IncompleteStreamError, `${kept} kept: ${String(error)}`);
        assert.equal(error.received, kept);
        assert.equal(error.expected, n);
        assert.equal(error.cause, undefined);
        assert.match(error.message, /the body ended on a batch boundary/);
        assertPrefix(got, kept);
      });
    }
  });

  test('a cut stream is resumed with from_batch and the epoch arrives whole, byte for byte', async () => {
    const middle = Math.floor((epoch.batchStarts[1]! + epoch.batchStarts[2]!) / 2);
    let first = true;
    const cut = () => (first ? ((first = false), { offset: middle, framing: 'close' as const }) : null);
    await replay({ cut }, async (base, requests) => {
      const { got, error } = await read(base, {});
      assert.equal(error, null);
      assertPrefix(got, want.length);
      assert.deepEqual(requests, [0, 1]);
    });
  });

  test('when every reconnection is cut too, IncompleteStreamError follows the retries', async () => {
    const n = epoch.batchStarts.length - 1;
    const cut = (from: number) => ({ offset: from === 0 ? epoch.batchStarts[1]! : epoch.schemaEnd + 4, framing: 'chunked' as const });
    await replay({ cut }, async (base, requests) => {
      const { got, error } = await read(base, { retries: 2 });
      assert.ok(error instanceof IncompleteStreamError, String(error));
      assert.equal(error.received, 1);
      assert.equal(error.expected, n);
      assertPrefix(got, 1);
      // Progress resets the count: one failure, then `retries` reconnections without progress.
      assert.deepEqual(requests, [0, 1, 1]);
    });
  });

  test('a response without X-Audiofeed-Batches is refused, not trusted, and not retried', async () => {
    await replay({ announce: () => null }, async (base, requests) => {
      const { got, error } = await read(base, { retries: 3 });
      assert.ok(error instanceof IncompleteStreamError, String(error));
      assert.equal(error.expected, null);
      assert.match(error.message, /X-Audiofeed-Batches/);
      assert.equal(got.length, 0);
      assert.deepEqual(requests, [0]);
    });
  });
});
