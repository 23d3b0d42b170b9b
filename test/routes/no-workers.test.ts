/**
 * Fail fast instead of hanging (issue #20): work asked for while no worker is connected is
 * a 503 `no-workers` with Retry-After at once (POST …/featurize, a stream that needs
 * featurization), a finished featurization is still answered, a job says how many workers
 * it has, and the CLI's `featurize` says "no worker is connected" instead of waiting.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { connectIdleWorkers, registerDataset, startTestApp, startTestWorkers, type TestApp } from '../helpers/app.ts';
import { cleanups } from '../helpers/cleanup.ts';
import { CLI_BIN, cliEnv, runCli } from '../helpers/cli.ts';
import { smallCorpus } from '../helpers/wav.ts';
import { waitFor } from '../helpers/wait.ts';

let t: TestApp;
let url: string;

before(async () => {
  t = await startTestApp();
  smallCorpus(path.join(t.root, 'small'));
  await registerDataset(t, { name: 'small', source: { type: 'directory', path: 'small' }, classes: ['yes', 'no'], batch_size: 4 });
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  url = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
});
after(async () => t?.close());

describe('no worker connected', () => {
  test('POST …/featurize is a 503 no-workers with Retry-After, and queues nothing', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/datasets/small/featurize', payload: { subset: 'training' } });
    assert.equal(res.statusCode, 503, res.body);
    assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
    assert.equal(res.headers['retry-after'], '10');
    assert.equal(res.json().type, 'https://audiofeed.dev/problems/no-workers');
    assert.match(res.json().detail, /no worker is connected/);
    assert.match(res.json().detail, /npm run worker/);
    const counts = await t.queues.jobCounts('waiting', 'waiting-children', 'prioritized');
    assert.equal(Object.values(counts).reduce((n, c) => n + Object.values(c).reduce((a, b) => a + b, 0), 0), 0);
    // Without a body: the training subset, refused the same way.
    const bare = await t.app.inject({ method: 'POST', url: '/v1/datasets/small/featurize' });
    assert.equal(bare.statusCode, 503, bare.body);
  });

  test('a stream that needs featurization is a 503 with Retry-After', async () => {
    const res = await t.app.inject({ url: '/v1/datasets/small/batches?format=npy' });
    assert.equal(res.statusCode, 503, res.body);
    assert.equal(res.headers['retry-after'], '10');
    assert.equal(res.json().type, 'https://audiofeed.dev/problems/no-workers');
  });

  test('the CLI featurize says "no worker is connected" at once and exits 3', async () => {
    const run = await runCli(['featurize', 'small'], { env: { AUDIOFEED_URL: url } });
    assert.equal(run.code, 3, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stderr, /^audiofeed: .*No workers: no worker is connected.*; retry in 10 s$/m);
    assert.equal(run.stderr.trimEnd().split('\n').length, 1, run.stderr);
  });

  test('a job whose workers go away says so; the CLI following it exits 3 naming the job', async (tt) => {
    const defer = cleanups(tt);
    const idle = await connectIdleWorkers(t);
    let closed = false;
    defer(() => (closed ? undefined : idle.close()));
    const res = await t.app.inject({ method: 'POST', url: '/v1/datasets/small/featurize', payload: { subset: 'training' } });
    assert.equal(res.statusCode, 202, res.body);
    const jobId = res.json().job_id as string;
    assert.equal((await t.app.inject({ url: `/v1/jobs/${jobId}` })).json().workers_connected, 1);
    const child = spawn(process.execPath, [CLI_BIN, 'featurize', 'small'], { env: cliEnv({ AUDIOFEED_URL: url }), cwd: os.tmpdir(), stdio: ['ignore', 'pipe', 'pipe'] });
    defer(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    // The CLI follows the job (its first progress line) before the workers go.
    await waitFor(() => / clips \(/.test(stdout) || child.exitCode !== null, { what: 'the CLI\'s first progress line (or its exit)' });
    assert.match(stdout, new RegExp(`job ${jobId} \\(already requested: following it\\)`), `${stdout}\n${stderr}`);
    await idle.close();
    closed = true;
    await waitFor(async () => (await t.app.inject({ url: `/v1/jobs/${jobId}` })).json(), { what: `job ${jobId} reporting no worker connected`, until: (p) => p.workers_connected === 0 });
    const code = await exited;
    assert.equal(code, 3, `${stdout}\n${stderr}`);
    assert.match(stderr, new RegExp(`no worker is connected to the service for 10 s, so job ${jobId} makes no progress`));
    assert.equal(stderr.trimEnd().split('\n').length, 1, stderr);
    // Cancelled, so the next test starts from nothing queued.
    assert.equal((await t.app.inject({ method: 'DELETE', url: `/v1/jobs/${jobId}` })).statusCode, 202);
  });

  test('a finished featurization is answered without any worker', async (tt) => {
    const defer = cleanups(tt);
    const workers = startTestWorkers(t);
    let stopped = false;
    defer(() => (stopped ? undefined : workers.close()));
    await workers.ready();
    const res = await t.app.inject({ method: 'POST', url: '/v1/datasets/small/featurize', payload: { subset: 'training' } });
    assert.ok(res.statusCode === 202, res.body);
    const jobId = res.json().job_id as string;
    await waitFor(async () => (await t.app.inject({ url: `/v1/jobs/${jobId}` })).json(), { what: `job ${jobId} completed`, until: (p) => p.state === 'completed' });
    assert.equal((await t.app.inject({ url: `/v1/jobs/${jobId}` })).json().workers_connected, undefined);
    await workers.close();
    stopped = true;
    const again = await t.app.inject({ method: 'POST', url: '/v1/datasets/small/featurize', payload: { subset: 'training' } });
    assert.equal(again.statusCode, 202, again.body);
    assert.deepEqual([again.json().job_id, again.json().created], [jobId, false]);
    // Its shards are cached: the stream needs no worker either.
    assert.equal((await t.app.inject({ url: '/v1/datasets/small/batches?format=npy&shuffle=false' })).statusCode, 200);
  });
});
