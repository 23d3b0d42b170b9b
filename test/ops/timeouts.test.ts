/**
 * Server timeouts on a listening app. Node applies headersTimeout and requestTimeout
 * only while a request is being *received*: an epoch stream that lasts far longer than
 * REQUEST_TIMEOUT_MS (here it first waits for featurization, sending nothing, then is
 * read slowly) completes, while a client that sends its headers or its body too slowly
 * is answered 408 and cut off, and an idle connection is closed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { MINI_CLASSES } from './helpers.ts';
import { registerDataset, startTestApp, startTestWorkers, type TestApp } from '../helpers/app.ts';
import { copyCorpus, testdata } from '../helpers/paths.ts';
import type { RunningWorkers } from '../../jobs/workers.ts';
import { decodeNpy } from '../../src/core/tensors/npy.ts';
import { Worker } from 'bullmq';
import { SHARD_QUEUE, connectionFromUrl } from '../../jobs/queues.ts';
import { closeAll } from '../helpers/cleanup.ts';

const REQUEST_TIMEOUT_MS = 1000;
let t: TestApp;
let port: number;
let workers: RunningWorkers | null = null;

before(async () => {
  t = await startTestApp({
    REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
    HEADERS_TIMEOUT_MS: '500',
    CONNECTION_TIMEOUT_MS: '1000',
    KEEP_ALIVE_TIMEOUT_MS: '1000',
    STREAM_IDLE_TIMEOUT_MS: '0',
  });
  copyCorpus(testdata('corpus-mini'), path.join(t.root, 'mini'));
  await registerDataset(t, { name: 'mini', source: { type: 'directory', path: 'mini' }, classes: MINI_CLASSES, validation_split: 0.2, batch_size: 4 });
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  port = (t.app.server.address() as net.AddressInfo).port;
});
after(() =>
  closeAll(
    () => workers?.close(),
    () => t?.close(),
  ),
);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Opens a raw connection, sends `first`, then drips `drip` a byte every 100 ms until the server closes. */
function dripClient(first: string, drip: string): Promise<{ closedByServer: boolean; received: string }> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = '';
    let i = 0;
    let timer: NodeJS.Timeout | undefined;
    socket.on('data', (d) => (received += d.toString()));
    socket.on('connect', () => {
      socket.write(first);
      timer = setInterval(() => {
        // Hang guard: after 200 bytes (20 s) the server has not cut us off: report that.
        if (i >= 200) {
          clearInterval(timer);
          socket.destroy();
          resolve({ closedByServer: false, received });
          return;
        }
        if (!socket.destroyed && drip.length > 0) socket.write(drip[i++ % drip.length]!);
        else i++;
      }, 100);
    });
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ closedByServer: i < 200, received });
    });
    socket.on('error', () => {});
  });
}

describe('timeouts', () => {
  test('an epoch stream longer than REQUEST_TIMEOUT_MS, waiting for featurization and read slowly, completes', async () => {
    // A worker that is connected (so the stream accepts to wait) but runs nothing.
    const idle = new Worker(SHARD_QUEUE, async () => undefined, { connection: connectionFromUrl(t.redisUrl), prefix: t.prefix, autorun: false });
    await idle.waitUntilReady();
    const started = Date.now();
    const { headers, body } = await new Promise<{ headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/v1/datasets/mini/batches?subset=training&format=npy&dtype=uint16' }, (res) => {
        if (res.statusCode !== 200) {
          let b = "";
          res.on("data", (c) => (b += c));
          res.on("end", () => reject(new Error(`status ${res.statusCode}: ${b}`)));
          return;
        }
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => {
          chunks.push(c);
          // A slow reader.
          res.pause();
          setTimeout(() => res.resume(), 20);
        });
        res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
        res.on('aborted', () => reject(new Error('the server cut the stream')));
      });
      req.on('error', reject);
      // Nothing featurizes the shards yet: the stream sends nothing for 1.5 × REQUEST_TIMEOUT_MS.
      void sleep(REQUEST_TIMEOUT_MS * 1.5).then(async () => {
        await idle.close();
        workers = startTestWorkers(t);
      });
    });
    assert.ok(Date.now() - started > REQUEST_TIMEOUT_MS, 'the stream lasted longer than the request timeout');
    const batches = Number(headers['x-audiofeed-batches']);
    assert.ok(batches > 1);
    let at = 0;
    let arrays = 0;
    while (at < body.length) {
      at += decodeNpy(body.subarray(at)).byteLength;
      arrays++;
    }
    assert.equal(arrays, batches * 2, 'x and y of every batch');
  });

  test('a client that sends its headers too slowly gets 408 and is cut off', async () => {
    const r = await dripClient('GET /healthz HTTP/1.1\r\nHost: x\r\n', 'X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n');
    assert.ok(r.closedByServer, 'the server closed the connection');
    assert.match(r.received, /^HTTP\/1\.1 408/);
  });

  test('a client that sends its body too slowly gets 408 and is cut off', async () => {
    const r = await dripClient(
      'POST /v1/datasets/mini/sample-weights HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"weights":[',
      '1,',
    );
    assert.ok(r.closedByServer, 'the server closed the connection');
    assert.match(r.received, /^HTTP\/1\.1 408/);
  });

  test('a connection that sends nothing is closed', async () => {
    const r = await dripClient('', '');
    assert.ok(r.closedByServer);
  });
});
