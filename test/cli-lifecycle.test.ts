/**
 * The CLI's dataset lifecycle and its safety (issues #22 item 3, #21 item 7):
 * `datasets load / unload / delete`, `jobs`, `pull` with --dtype, --class-mode,
 * --subset, --augment / --no-augment and --resume, against the real app; and against
 * stand-in servers: redirects never carry the token to another origin, a 503 is said
 * plainly, and a stream whose headers or frames lie is refused before anything is
 * allocated or named as complete. Commands run through main() in this process (the code
 * bin/audiofeed.js runs), stdout a pipe.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startTestApp, startTestWorkers, registerDataset, type TestApp } from './helpers/app.ts';
import { cleanups, closeAll } from './helpers/cleanup.ts';
import { TESTDATA } from './helpers/paths.ts';
import { runCliInProcess } from './helpers/cli.ts';
import type { RunningWorkers } from '../jobs/workers.ts';
import { decodeNpy, encodeNpy, npyHeader } from '../src/core/tensors/npy.ts';
import { StreamFramer } from '../src/core/tensors/stream-frames.ts';

const CLASSES = ['yes', 'no', 'up', 'down', 'left', 'right', '_unknown_', '_silence_'];

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A stand-in server, closed when the test ends. */
async function standIn(defer: (fn: () => unknown) => void, handler: http.RequestListener): Promise<string> {
  const server = http.createServer(handler);
  const url = await listen(server);
  defer(() => new Promise<void>((r) => server.close(() => r())));
  defer(() => server.closeAllConnections());
  return url;
}

/** Byte offsets where each batch of a stream ends (npy: `columns` arrays a batch). */
function batchEnds(bytes: Buffer, format: 'npy' | 'arrow', columns: number): number[] {
  const framer = new StreamFramer(format, { maxFrameBytes: 1 << 30 });
  const ends: number[] = [];
  let arrays = 0;
  for (const f of framer.push(bytes)) {
    if (f.kind === 'record-batch') ends.push(f.end);
    if (f.kind === 'npy' && ++arrays % columns === 0) ends.push(f.end);
  }
  return ends;
}

describe('lifecycle commands against a running service', () => {
  let t: TestApp;
  let workers: RunningWorkers;
  let url: string;
  let work: string;
  const env = () => ({ AUDIOFEED_URL: url });

  before(async () => {
    t = await startTestApp({}, { roots: [TESTDATA] });
    workers = startTestWorkers(t);
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    url = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'audiofeed-cli-life-'));
    await registerDataset(t, { name: 'life', source: { type: 'directory', path: 'corpus-mini' }, classes: CLASSES, validation_split: 0.2, batch_size: 16 });
  });
  after(() =>
    closeAll(
      () => workers?.close(),
      () => t?.close(),
      () => work && fs.rmSync(work, { recursive: true, force: true }),
    ),
  );

  const view = async (id: string) => (await fetch(`${url}/v1/datasets/${id}`)).json() as Promise<Record<string, any>>;

  test('datasets load and unload, with and without a subset', async () => {
    const evaluation = await runCliInProcess(['datasets', 'load', 'life', '--subset', 'evaluation'], env());
    assert.equal(evaluation.code, 0, evaluation.stderr);
    let v = await view('life');
    // The line describes what the service answers: each subset's count, the classes, the input shape.
    const counts = Object.entries(v.class_counts as Record<string, Record<string, number>>).map(
      ([subset, c]) => `${subset}: ${Object.values(c).reduce((a, b) => a + b, 0)} samples`,
    );
    assert.ok(counts.length > 0);
    assert.equal(evaluation.stdout, `loaded life (evaluation): ${counts.join(', ')}, 8 classes, input shape [98, 32, 1]\n`);

    const training = await runCliInProcess(['datasets', 'load', 'life'], env());
    assert.equal(training.code, 0, training.stderr);
    assert.match(training.stdout, /^loaded life \(training\): training: \d+ samples, validation: \d+ samples, /);

    const unload = await runCliInProcess(['datasets', 'unload', 'life'], env());
    assert.equal(unload.code, 0, unload.stderr);
    assert.equal(unload.stdout, 'unloaded life: nothing is loaded\n');
    v = await view('life');
    assert.equal(v.status, 'unloaded');
    assert.equal((await runCliInProcess(['datasets', 'load', 'life'], env())).code, 0);
  });

  test('unload --subset sends the subset (the API takes an optional {"subset"})', async (tt) => {
    const defer = cleanups(tt);
    const seen: { method: string; url: string; body: string }[] = [];
    const fake = await standIn(defer, (req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        seen.push({ method: req.method!, url: req.url!, body });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: 'x', class_counts: { training: { a: 2 } }, audio_classes: ['a'], audio_input_shape: [1] }));
      });
    });
    const r = await runCliInProcess(['datasets', 'unload', 'x', '--subset', 'validation', '--url', fake], {});
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'unloaded x (validation): still loaded: training: 2 samples, 1 classes, input shape [1]\n');
    assert.deepEqual(seen, [{ method: 'POST', url: '/v1/datasets/x/unload', body: '{"subset":"validation"}' }]);
  });

  test('jobs lists the featurizations, filtered; jobs cancel of a finished job changes nothing', async () => {
    const f = await runCliInProcess(['featurize', 'life'], env());
    assert.equal(f.code, 0, f.stderr);
    const job = /job (featurize-[a-f0-9]{32})/.exec(f.stdout)![1]!;
    const list = await runCliInProcess(['jobs', '--dataset', 'life'], env());
    assert.equal(list.code, 0, list.stderr);
    const lines = list.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^ID\s+DATASET\s+SUBSET\s+STATE\s+CLIPS\s+FAILED\s+CREATED$/);
    const row = lines.find((l) => l.startsWith(job));
    assert.ok(row, list.stdout);
    const api = (await (await fetch(`${url}/v1/jobs/${job}`)).json()) as { clips_total: number; created_at: string };
    assert.deepEqual(row.split(/\s+/), [job, 'life', 'training', 'completed', `${api.clips_total}/${api.clips_total}`, '0', api.created_at]);

    assert.match((await runCliInProcess(['jobs', '--state', 'completed', '--state', 'failed'], env())).stdout, new RegExp(`^${job} `, 'm'));
    assert.equal((await runCliInProcess(['jobs', '--dataset', 'life', '--state', 'cancelled'], env())).stdout, 'no featurization jobs\n');
    const cancel = await runCliInProcess(['jobs', 'cancel', job], env());
    assert.equal(cancel.code, 0, cancel.stderr);
    assert.equal(cancel.stdout, `${job} had already completed: nothing to cancel\n`);
    for (const args of [['jobs', '--state', 'done'], ['jobs', 'frob'], ['jobs', 'cancel'], ['jobs', 'cancel', job, '--dataset', 'life']]) {
      const r = await runCliInProcess(args, env());
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /\(see audiofeed jobs --help\)\n$/);
    }
  });

  test('pull --dtype --class-mode --no-augment --subset: the file is the stream of that query', async () => {
    const out = path.join(work, 'flags');
    const r = await runCliInProcess(['pull', 'life', '--epochs', '1', '--format', 'npy', '--dtype', 'int8', '--class-mode', 'sparse', '--no-augment', '--subset', 'validation', '--batch-size', '4', '--out', out], env());
    assert.equal(r.code, 0, r.stderr);
    const direct = Buffer.from(
      await (await fetch(`${url}/v1/datasets/life/batches?subset=validation&epoch=1&format=npy&batch_size=4&dtype=int8&class_mode=sparse&augment=false`)).arrayBuffer(),
    );
    const pulled = fs.readFileSync(path.join(out, 'life-validation-epoch1.npys'));
    assert.ok(pulled.equals(direct));
    const x = decodeNpy(pulled);
    const y = decodeNpy(pulled.subarray(x.byteLength));
    assert.deepEqual([x.dtype, x.shape, y.shape], ['int8', [4, 98, 32, 1], [4]]);
  });

  test('pull --augment and --no-augment reach the query; both at once is a usage error', async (tt) => {
    const defer = cleanups(tt);
    const queries: string[] = [];
    const fake = await standIn(defer, (req, res) => {
      queries.push(req.url!);
      res.writeHead(404, { 'content-type': 'application/problem+json' });
      res.end(JSON.stringify({ type: 'x', title: 'Not found', status: 404, detail: 'stand-in' }));
    });
    for (const flag of ['--augment', '--no-augment']) assert.equal((await runCliInProcess(['pull', 'd', '--epochs', '0', flag, '--out', work, '--url', fake], {})).code, 1);
    assert.deepEqual(queries.map((q) => new URL(q, fake).searchParams.get('augment')), ['true', 'false']);
    const both = await runCliInProcess(['pull', 'd', '--epochs', '0', '--augment', '--no-augment', '--url', fake], {});
    assert.equal(both.code, 2);
    for (const args of [['--dtype', 'int16'], ['--class-mode', 'onehot'], ['--max-batch-bytes', '0']]) {
      assert.equal((await runCliInProcess(['pull', 'd', '--epochs', '0', ...args, '--url', fake], {})).code, 2, args.join(' '));
    }
  });

  test('pull --resume continues a cut epoch from its next batch: the file is byte for byte the stream (npy and Arrow)', async (tt) => {
    const defer = cleanups(tt);
    const target = new URL(url);
    const requests: string[] = [];
    let cutAt: number | null = null;
    // A proxy to the service that ends the next batch stream after `cutAt` bytes. A clean end,
    // not a reset: fetch drops body chunks not yet read when the connection resets, which
    // would make the number of batches kept depend on timing.
    const proxy = await standIn(defer, (req, res) => {
      requests.push(req.url!);
      const up = http.request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (ur) => {
        res.writeHead(ur.statusCode!, ur.headers);
        if (cutAt === null || !req.url!.includes('/batches')) return void ur.pipe(res);
        let sent = 0;
        const limit = cutAt;
        cutAt = null;
        ur.on('data', (chunk: Buffer) => {
          if (sent >= limit) return;
          const part = chunk.subarray(0, limit - sent);
          sent += part.length;
          if (sent >= limit) res.end(part);
          else res.write(part);
        });
      });
      req.pipe(up);
    });
    for (const format of ['npy', 'arrow'] as const) {
      const out = path.join(work, `resume-${format}`);
      const ext = format === 'npy' ? 'npys' : 'arrow';
      const query = `subset=training&epoch=3&format=${format}&batch_size=8`;
      const directRes = await fetch(`${url}/v1/datasets/life/batches?${query}`);
      const columns = directRes.headers.get('x-audiofeed-columns')!.split(',').length;
      const direct = Buffer.from(await directRes.arrayBuffer());
      const ends = batchEnds(direct, format, columns);
      assert.ok(ends.length >= 4, `${ends.length} batches`);
      const args = ['pull', 'life', '--epochs', '3', '--format', format, '--batch-size', '8', '--out', out, '--url', proxy];

      requests.length = 0;
      cutAt = ends[1]! + 40; // two batches and a little of the third
      const cut = await runCliInProcess(args, {});
      assert.equal(cut.code, 3, cut.stderr);
      assert.match(cut.stderr, new RegExp(`ended inside a batch, after 2 of ${ends.length} batches; 2 of ${ends.length} batches kept in .*; run the same pull with --resume to continue from batch 2\\n$`));
      assert.ok(!fs.existsSync(path.join(out, `life-training-epoch3.${ext}`)));
      assert.equal(fs.statSync(path.join(out, `.life-training-epoch3.${ext}.part`)).size >= ends[1]!, true);

      const resumed = await runCliInProcess([...args, '--resume'], {});
      assert.equal(resumed.code, 0, resumed.stderr);
      assert.match(resumed.stdout, new RegExp(`^epoch 3: ${ends.length} batches, [\\d.]+ MB -> .*life-training-epoch3\\.${ext} \\(resumed at batch 2\\)$`, 'm'));
      assert.ok(fs.readFileSync(path.join(out, `life-training-epoch3.${ext}`)).equals(direct), `${format}: the resumed file is the stream`);
      assert.deepEqual(fs.readdirSync(out), [`life-training-epoch3.${ext}`], 'no partial file, record or lock stays');
      const batchRequests = requests.filter((r) => r.includes('/batches')).map((r) => new URL(r, proxy).searchParams.get('from_batch'));
      assert.deepEqual(batchRequests, ['0', '2']);
    }

    // Kept bytes that changed since (a flipped byte) are not continued: the epoch starts over.
    const out = path.join(work, 'resume-npy');
    const args = ['pull', 'life', '--epochs', '4', '--format', 'npy', '--batch-size', '8', '--out', out, '--url', proxy];
    const direct = Buffer.from(await (await fetch(`${url}/v1/datasets/life/batches?subset=training&epoch=4&format=npy&batch_size=8`)).arrayBuffer());
    const oneBatch = batchEnds(direct, 'npy', 2)[0]! + 1000;
    cutAt = oneBatch;
    assert.equal((await runCliInProcess(args, {})).code, 3);
    const part = path.join(out, '.life-training-epoch4.npys.part');
    const bytes = fs.readFileSync(part);
    bytes[200] = bytes[200]! ^ 0xff;
    fs.writeFileSync(part, bytes);
    const again = await runCliInProcess([...args, '--resume'], {});
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^epoch 4: not resuming \(the bytes kept do not match their recorded checksum\); starting the epoch over$/m);
    assert.ok(fs.readFileSync(path.join(out, 'life-training-epoch4.npys')).equals(direct));

    // A dataset reloaded since is another version: not continued either.
    cutAt = oneBatch;
    const args5 = ['pull', 'life', '--epochs', '5', '--format', 'npy', '--batch-size', '8', '--out', out, '--url', proxy];
    assert.equal((await runCliInProcess(args5, {})).code, 3);
    await new Promise((r) => setTimeout(r, 5)); // updated_at has millisecond resolution
    assert.equal((await runCliInProcess(['datasets', 'load', 'life'], env())).code, 0);
    const reloaded = await runCliInProcess([...args5, '--resume'], {});
    assert.equal(reloaded.code, 0, reloaded.stderr);
    assert.match(reloaded.stdout, /^epoch 5: not resuming \(the dataset changed since \(version .* then, .* now\)\); starting the epoch over$/m);
    const direct5 = Buffer.from(await (await fetch(`${url}/v1/datasets/life/batches?subset=training&epoch=5&format=npy&batch_size=8`)).arrayBuffer());
    assert.ok(fs.readFileSync(path.join(out, 'life-training-epoch5.npys')).equals(direct5));
  });

  test('datasets delete asks for --yes; --purge removes the artifacts too', async () => {
    await registerDataset(t, { name: 'doomed', source: { type: 'directory', path: 'corpus-mini' }, classes: CLASSES, shuffle_dataset_enabled: true });
    const artifacts = (await t.ctx.registry.get('doomed')).artifact_dir;
    assert.ok(fs.existsSync(artifacts));
    const unconfirmed = await runCliInProcess(['datasets', 'delete', 'doomed'], env());
    assert.equal(unconfirmed.code, 2);
    assert.match(unconfirmed.stderr, /^audiofeed: deleting doomed cannot be undone: add --yes to confirm \(see audiofeed datasets --help\)\n$/);
    assert.equal((await fetch(`${url}/v1/datasets/doomed`)).status, 200);
    const r = await runCliInProcess(['datasets', 'delete', 'doomed', '--yes', '--purge'], env());
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'deleted doomed and its index files and feature shards\n');
    assert.equal((await fetch(`${url}/v1/datasets/doomed`)).status, 404);
    assert.ok(!fs.existsSync(artifacts));
    const gone = await runCliInProcess(['datasets', 'delete', 'doomed', '--yes'], env());
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /^audiofeed: 404 /);
    assert.equal((await runCliInProcess(['datasets', 'list', '--yes'], env())).code, 2);
  });
});

describe('a hostile or broken service', () => {
  test('the token never follows a redirect to another origin; same-origin redirects keep it', async (tt) => {
    const defer = cleanups(tt);
    const seen: [string, string, string | null][] = [];
    const other = await standIn(defer, (req, res) => {
      seen.push(['other', req.url!, req.headers.authorization ?? null]);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ datasets: [], total: 0 }));
    });
    const service = await standIn(defer, (req, res) => {
      seen.push(['service', req.url!, req.headers.authorization ?? null]);
      if (req.url!.startsWith('/v1/datasets?')) {
        res.writeHead(307, { location: '/moved/v1/datasets?limit=1000' });
      } else if (req.url!.startsWith('/moved/')) {
        res.writeHead(302, { location: `${other}/v1/datasets?limit=1000` });
      } else {
        res.writeHead(404);
      }
      res.end();
    });
    const r = await runCliInProcess(['datasets', 'list', '--url', service, '--token', 'secret'], {});
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'no datasets registered\n');
    assert.deepEqual(seen, [
      ['service', '/v1/datasets?limit=1000', 'Bearer secret'],
      ['service', '/moved/v1/datasets?limit=1000', 'Bearer secret'],
      ['other', '/v1/datasets?limit=1000', null],
    ]);
  });

  test('a redirect loop and a redirect to another scheme end with exit 3', async (tt) => {
    const defer = cleanups(tt);
    const loop = await standIn(defer, (_req, res) => {
      res.writeHead(302, { location: '/again' });
      res.end();
    });
    const r = await runCliInProcess(['datasets', 'show', 'x', '--url', loop], {});
    assert.equal(r.code, 3);
    assert.match(r.stderr, /redirected more than 5 times/);
    const file = await standIn(defer, (_req, res) => {
      res.writeHead(302, { location: 'file:///etc/passwd' });
      res.end();
    });
    assert.match((await runCliInProcess(['datasets', 'show', 'x', '--url', file], {})).stderr, /redirected to file: \(only http and https are followed\)/);
  });

  test('datasets list follows the pages; a next page on another origin is refused', async (tt) => {
    const defer = cleanups(tt);
    const row = (id: string) => ({ id, status: 'ready', loaded_subset: 'training', audio_classes: ['a'], class_counts: { training: { a: 1 } } });
    let elsewhere = '';
    const service = await standIn(defer, (req, res) => {
      const offset = Number(new URL(req.url!, 'http://x').searchParams.get('offset') ?? 0);
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (offset === 0) headers.link = '</v1/datasets?limit=1000&offset=1>; rel="next"';
      if (offset === 1 && elsewhere) headers.link = `<${elsewhere}/v1/datasets?offset=2>; rel="next"`;
      res.writeHead(200, headers);
      res.end(JSON.stringify({ datasets: [row(`d${offset}`)], total: 3 }));
    });
    const r = await runCliInProcess(['datasets', 'list', '--url', service], {});
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trimEnd().split('\n').slice(1).map((l) => l.split(/\s+/)[0]), ['d0', 'd1']);
    elsewhere = 'http://127.0.0.1:9';
    const refused = await runCliInProcess(['datasets', 'list', '--url', service, '--token', 'secret'], {});
    assert.equal(refused.code, 3);
    assert.match(refused.stderr, /sent a next page on another origin \(http:\/\/127\.0\.0\.1:9\); not followed/);
  });

  test('featurize answered 503 (no worker) says so plainly and exits 3 at once', async (tt) => {
    const defer = cleanups(tt);
    const fake = await standIn(defer, (_req, res) => {
      res.writeHead(503, { 'content-type': 'application/problem+json', 'retry-after': '5' });
      res.end(JSON.stringify({ type: 'https://audiofeed.dev/problems/no-worker', title: 'Service unavailable', status: 503, detail: 'no worker is connected to the featurize queue' }));
    });
    const r = await runCliInProcess(['featurize', 'mini', '--url', fake], {});
    assert.equal(r.code, 3);
    assert.equal(r.stderr, `audiofeed: featurize mini/training: the service at ${fake} cannot do this now: Service unavailable: no worker is connected to the featurize queue; retry in 5 s\n`);
  });

  /** A stand-in batch stream: the given headers and body for every request. */
  async function batchServer(defer: (fn: () => unknown) => void, headers: Record<string, string>, body: Buffer): Promise<string> {
    return standIn(defer, (_req, res) => {
      res.writeHead(200, { 'x-audiofeed-columns': 'x,y', 'x-audiofeed-batches': '2', 'x-audiofeed-x-shape': '[4,2,1]', 'x-audiofeed-dtype': 'uint16', 'x-audiofeed-dataset-version': 'v1', ...headers });
      res.end(body);
    });
  }

  test('pull refuses frames that declare more than --max-batch-bytes, before their data, and keeps nothing', async (tt) => {
    const defer = cleanups(tt);
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'audiofeed-cli-hostile-'));
    defer(() => fs.rmSync(out, { recursive: true, force: true }));
    // An x header claiming 10¹² rows, and then only a few bytes.
    const huge = await batchServer(defer, {}, Buffer.concat([npyHeader('uint16', [1e12, 4, 2, 1]), Buffer.alloc(64)]));
    const r = await runCliInProcess(['pull', 'd', '--epochs', '0', '--format', 'npy', '--out', out, '--url', huge], {});
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /is not valid: an \.npy array at byte 0 declares shape \[1000000000000,4,2,1\] uint16 \(16000000000000 bytes\); the limit is 1073741824 bytes/);
    assert.deepEqual(fs.readdirSync(out), []);
    // A sample shape in the headers larger than the limit: refused before the body is read.
    const wide = await batchServer(defer, { 'x-audiofeed-x-shape': '[100000,100000]' }, Buffer.alloc(0));
    const w = await runCliInProcess(['pull', 'd', '--epochs', '0', '--format', 'npy', '--out', out, '--url', wide, '--max-batch-bytes', '1000000'], {});
    assert.equal(w.code, 3);
    assert.match(w.stderr, /declares samples of 20000000000 bytes, more than --max-batch-bytes \(1000000\)/);
    assert.deepEqual(fs.readdirSync(out), []);
  });

  test('pull refuses arrays that contradict the headers (dtype, shape, rows) and keeps nothing', async (tt) => {
    const defer = cleanups(tt);
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'audiofeed-cli-hostile-'));
    defer(() => fs.rmSync(out, { recursive: true, force: true }));
    const batch = (x: Buffer[], y: Buffer[]) => Buffer.concat([...x, ...y]);
    const cases: [string, Buffer, RegExp][] = [
      ['float32 x under a uint16 header', batch(encodeNpy(new Float32Array(8), [1, 4, 2, 1]), encodeNpy(new Uint16Array(1), [1])), /x is float32 \[1,4,2,1\], the headers announce uint16 \[rows, 4, 2, 1\]/],
      ['another sample shape', batch(encodeNpy(new Uint16Array(8), [1, 2, 4, 1]), encodeNpy(new Uint16Array(1), [1])), /x is uint16 \[1,2,4,1\]/],
      ['labels for other rows', batch(encodeNpy(new Uint16Array(16), [2, 4, 2, 1]), encodeNpy(new Uint16Array(3), [3])), /column 1 has 3 rows, x has 2/],
      ['not an array at all', Buffer.from('<html>Gateway error</html>'), /bad magic/],
    ];
    for (const [what, body, why] of cases) {
      const fake = await batchServer(defer, {}, body);
      const r = await runCliInProcess(['pull', 'd', '--epochs', '0', '--format', 'npy', '--out', out, '--url', fake], {});
      assert.equal(r.code, 3, `${what}: ${r.stderr}`);
      assert.match(r.stderr, why, what);
      assert.deepEqual(fs.readdirSync(out), [], what);
    }
  });
});
