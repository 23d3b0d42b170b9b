/**
 * The remote commands of the `audiofeed` CLI (datasets, featurize, pull) as child
 * processes against the real app on a loopback socket, with in-process BullMQ workers:
 * what they print equals what the API answers, pulled epochs equal the bytes of the same
 * requests made directly, and every failure has its exit status (1 rejected, 2 usage,
 * 3 unreachable or cut). stdout is a pipe here, so progress comes as plain lines.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { connectIdleWorkers, startTestApp, startTestWorkers, type TestApp } from './helpers/app.ts';
import { cleanups, closeAll } from './helpers/cleanup.ts';
import { waitFor, within } from './helpers/wait.ts';
import { TESTDATA } from './helpers/paths.ts';
import { CLI_BIN, cliEnv, runCli, runCliInProcess } from './helpers/cli.ts';
import { smallCorpus } from './helpers/wav.ts';
import type { RunningWorkers } from '../jobs/workers.ts';

const CLASSES = 'yes,no,up,down,left,right,_unknown_,_silence_';

/** No Node stack frame may reach the user for an error they caused. */
function assertOneLine(stderr: string): void {
  assert.equal(stderr.trimEnd().split('\n').length, 1, stderr);
  assert.doesNotMatch(stderr, /\n\s+at /);
}

/** Plain lines only: no ANSI escape and no carriage return. */
function assertPlain(out: string): void {
  assert.doesNotMatch(out, /\x1b/, 'ANSI escape in non-TTY output');
  assert.doesNotMatch(out, /\r/, 'carriage return in non-TTY output');
}

/** main() of cli/main.ts in this process, its output captured. */
async function listen(t: TestApp): Promise<string> {
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  return `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
}

async function get(url: string, headers: Record<string, string> = {}): Promise<Response> {
  const res = await fetch(url, { headers });
  return res;
}

describe('remote commands against a running service', () => {
  let t: TestApp;
  let workers: RunningWorkers | null = null;
  let url: string;
  let work: string;
  const env = () => ({ AUDIOFEED_URL: url });

  before(async () => {
    // ../shared/testdata is a data root, so `corpus-mini` resolves there.
    t = await startTestApp({}, { roots: [TESTDATA] });
    workers = startTestWorkers(t);
    await workers.ready();
    url = await listen(t);
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'audiofeed-cli-remote-'));
  });
  after(() =>
    closeAll(
      () => workers?.close(),
      () => t?.close(),
      () => work && fs.rmSync(work, { recursive: true, force: true }),
    ),
  );

  test('datasets register, list, show, summary and weights print what the API answers', async () => {
    const reg = await runCli(
      ['datasets', 'register', 'corpus-mini', '--classes', CLASSES, '--name', 'mini', '--set', 'validation_split=0.2', '--set', 'batch_size=16', '--set', 'class_weights=balanced'],
      { env: env() },
    );
    assert.equal(reg.code, 0, reg.stderr);
    const view = (await (await get(`${url}/v1/datasets/mini`)).json()) as {
      settings: Record<string, unknown>;
      class_counts: Record<string, Record<string, number>>;
      audio_input_shape: number[];
    };
    // --set values arrived typed: a number and a string.
    assert.equal(view.settings.validation_split, 0.2);
    assert.equal(view.settings.batch_size, 16);
    assert.equal(view.settings.class_weights, 'balanced');
    const n = (s: string) => Object.values(view.class_counts[s]!).reduce((a, b) => a + b, 0);
    assert.equal(
      reg.stdout,
      `registered mini: training: ${n('training')} samples, validation: ${n('validation')} samples, 8 classes, input shape [${view.audio_input_shape.join(', ')}]\n`,
    );

    const list = await runCli(['datasets', 'list'], { env: env() });
    assert.equal(list.code, 0, list.stderr);
    const lines = list.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^ID\s+STATUS\s+LOADED\s+CLASSES\s+TRAINING\s+VALIDATION$/);
    assert.deepEqual(lines[1]!.split(/\s+/), ['mini', 'ready', 'training', '8', String(n('training')), String(n('validation'))]);

    // --url before the command (the environment's URL points nowhere).
    const show = await runCli(['--url', url, 'datasets', 'show', 'mini'], { env: { AUDIOFEED_URL: 'http://127.0.0.1:1' } });
    assert.equal(show.code, 0, show.stderr);
    assert.deepEqual(JSON.parse(show.stdout), view);

    const summary = await runCli(['datasets', 'summary', 'mini'], { env: env() });
    assert.equal(summary.code, 0, summary.stderr);
    const text = await (await get(`${url}/v1/datasets/mini/summary`, { accept: 'text/plain' })).text();
    assert.match(text, /^Training dataset: Found \d+ samples belonging to 8 classes:/);
    assert.equal(summary.stdout.trimEnd(), text.trimEnd());

    const weights = await runCli(['datasets', 'weights', 'mini'], { env: env() });
    assert.equal(weights.code, 0, weights.stderr);
    const w = (await (await get(`${url}/v1/datasets/mini/class-weights`)).json()) as { value: Record<string, number> | number[]; log: string };
    const classes = CLASSES.split(',');
    const entries = Array.isArray(w.value) ? w.value.map((v, i) => [classes[i]!, v] as const) : Object.entries(w.value);
    assert.equal(entries.length, 8);
    for (const [key, value] of entries) {
      // Weights keyed by class index are printed with the class name.
      const label = /^\d+$/.test(key) ? classes[Number(key)]! : key;
      assert.ok(weights.stdout.split('\n').some((l) => l.trim() === `${label} = ${value}`), `${label} = ${value} in\n${weights.stdout}`);
    }
    if (w.log) assert.ok(weights.stdout.includes(w.log.trimEnd()), weights.stdout);
  });

  test('featurize follows the job with plain progress lines and ends with the result', async () => {
    const r = await runCli(['featurize', 'mini', '--subset', 'training'], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    assertPlain(r.stdout);
    const lines = r.stdout.trimEnd().split('\n');
    const job = /^featurize mini\/training: job (featurize-[a-f0-9]{32})/.exec(lines[0]!)?.[1];
    assert.ok(job, lines[0]);
    const status = (await (await get(`${url}/v1/jobs/${job}`)).json()) as { state: string; clips_total: number; failures: unknown[] };
    assert.equal(status.state, 'completed');
    assert.ok(status.clips_total > 0);
    const progress = lines.slice(1, -1);
    assert.ok(progress.length >= 1, r.stdout);
    for (const l of progress) assert.match(l, /^featurize mini\/training: \d+\/\d+ clips \(\d+%\), (- |\d+\.\d )clips\/s(, ETA (\?|\d+[smh].*))?$/);
    assert.match(progress.at(-1)!, new RegExp(`: ${status.clips_total}/${status.clips_total} clips \\(100%\\)`));
    assert.equal(lines.at(-1), `featurize mini/training: completed: ${status.clips_total} of ${status.clips_total} clips, ${status.failures.length} failed clips`);
  });

  test('pull writes each epoch byte for byte as the API streams it (npy and arrow)', async () => {
    const out = path.join(work, 'epochs');
    const r = await runCli(['pull', 'mini', '--epochs', '0-1', '--format', 'npy', '--out', out, '--batch-size', '8'], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    assertPlain(r.stdout);
    assert.deepEqual(fs.readdirSync(out).sort(), ['mini-training-epoch0.npys', 'mini-training-epoch1.npys']);
    for (const epoch of [0, 1]) {
      const res = await get(`${url}/v1/datasets/mini/batches?subset=training&epoch=${epoch}&format=npy&batch_size=8`);
      assert.equal(res.status, 200);
      const batches = Number(res.headers.get('x-audiofeed-batches'));
      const direct = Buffer.from(await res.arrayBuffer());
      const pulled = fs.readFileSync(path.join(out, `mini-training-epoch${epoch}.npys`));
      assert.ok(pulled.equals(direct), `epoch ${epoch}: ${pulled.length} bytes pulled, ${direct.length} direct`);
      assert.match(r.stdout, new RegExp(`^epoch ${epoch}: ${batches}/${batches} batches \\(100%\\), \\d+\\.\\d MB/s$`, 'm'));
      assert.match(r.stdout, new RegExp(`^epoch ${epoch}: ${batches} batches, \\d+\\.\\d MB -> ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/mini-training-epoch${epoch}\\.npys$`, 'm'));
    }
    // The two epochs are shuffled differently (the comparison above is not of equal files).
    assert.ok(!fs.readFileSync(path.join(out, 'mini-training-epoch0.npys')).equals(fs.readFileSync(path.join(out, 'mini-training-epoch1.npys'))));

    const a = await runCli(['pull', 'mini', '--epochs', '2', '--out', 'arrow-out', '--subset', 'validation'], { env: env(), cwd: work });
    assert.equal(a.code, 0, a.stderr);
    const direct = Buffer.from(await (await get(`${url}/v1/datasets/mini/batches?subset=validation&epoch=2&format=arrow`)).arrayBuffer());
    assert.ok(fs.readFileSync(path.join(work, 'arrow-out', 'mini-validation-epoch2.arrow')).equals(direct));
    assert.deepEqual(fs.readdirSync(path.join(work, 'arrow-out')), ['mini-validation-epoch2.arrow']);
  });

  test('a stream cut short is exit 3 and leaves no complete-looking file, only the partial one --resume continues', async (tt) => {
    const defer = cleanups(tt);
    const res = await get(`${url}/v1/datasets/mini/batches?subset=training&epoch=0&format=npy&batch_size=8`);
    const headers = Object.fromEntries(
      ['content-type', 'x-audiofeed-batches', 'x-audiofeed-columns', 'x-audiofeed-x-shape', 'x-audiofeed-dtype', 'x-audiofeed-dataset-version'].map((h) => [h, res.headers.get(h)!]),
    );
    const body = Buffer.from(await res.arrayBuffer());
    const columns = headers['x-audiofeed-columns']!.split(',').length;
    // The byte offset after the first batch: its `columns` arrays.
    let firstBatch = 0;
    for (let i = 0; i < columns; i++) {
      const headerLen = body.readUInt16LE(firstBatch + 8);
      const shape = /'shape': \(([^)]*)\)/.exec(body.toString('latin1', firstBatch + 10, firstBatch + 10 + headerLen))![1]!;
      const descr = /'descr': '[<|]?[a-z](\d+)'/.exec(body.toString('latin1', firstBatch + 10, firstBatch + 10 + headerLen))![1]!;
      const count = shape.split(',').filter((s) => s.trim()).reduce((p, s) => p * Number(s), 1);
      firstBatch += 10 + headerLen + count * Number(descr);
    }
    assert.ok(firstBatch < body.length);
    // A stand-in for a service that dies mid-epoch: the real headers, part of the real body.
    const server = http.createServer((req, reply) => {
      reply.writeHead(200, headers);
      if (req.url!.includes('epoch=0')) {
        reply.end(body.subarray(0, firstBatch)); // a clean end, one batch short
      } else if (req.url!.includes('epoch=1')) {
        reply.write(body.subarray(0, firstBatch + 100), () => setTimeout(() => reply.destroy(), 50));
      } else {
        reply.write(body.subarray(0, firstBatch + 100)); // and then nothing: a stalled stream
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    defer(() => new Promise<void>((r) => server.close(() => r())));
    defer(() => server.closeAllConnections());
    const fake = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const out = path.join(work, 'cut');
    const batches = Number(headers['x-audiofeed-batches']);
    for (const [epoch, why] of [['0', /ended after 1 of \d+ batches; the epoch is incomplete/], ['1', /cut after 1 of \d+ batches|ended inside a batch/]] as const) {
      const r = await runCli(['pull', 'mini', '--epochs', epoch, '--format', 'npy', '--out', out, '--url', fake]);
      assert.equal(r.code, 3, `${r.stdout}\n${r.stderr}`);
      assertOneLine(r.stderr);
      assert.match(r.stderr, why);
      assert.match(r.stderr, new RegExp(`; 1 of ${batches} batches kept in .*/\\.mini-training-epoch${epoch}\\.npys\\.part; run the same pull with --resume to continue from batch 1$`, 'm'));
      assert.ok(r.stderr.includes(fake), r.stderr);
      // Only the hidden partial file and its record: nothing under the epoch's own name.
      assert.deepEqual(fs.readdirSync(out).filter((f) => f.includes(`epoch${epoch}`)).sort(), [`.mini-training-epoch${epoch}.npys.part`, `.mini-training-epoch${epoch}.npys.part.json`]);
      const record = JSON.parse(fs.readFileSync(path.join(out, `.mini-training-epoch${epoch}.npys.part.json`), 'utf8'));
      assert.deepEqual([record.received, record.batches, record.bytes], [1, batches, firstBatch]);
    }

    // Ctrl-C while the stream stalls: exit 130, and what arrived is kept for --resume.
    const child = spawn(process.execPath, [CLI_BIN, 'pull', 'mini', '--epochs', '2', '--format', 'npy', '--out', out, '--url', fake], {
      env: cliEnv({}),
      cwd: os.tmpdir(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    defer(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdout.resume();
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    const recordFile = path.join(out, '.mini-training-epoch2.npys.part.json');
    // The record is written once the first batch is in (the stream then stalls).
    await waitFor(() => fs.existsSync(recordFile) || child.exitCode !== null, { what: `the pull's resume record ${recordFile} (or its exit)`, describe: () => stderr });
    assert.ok(fs.existsSync(path.join(out, '.mini-training-epoch2.npys.part')), `the partial file while the stream runs (${stderr})`);
    child.kill('SIGINT');
    assert.equal(await within(exited, 'the pull exiting on SIGINT'), 130, stderr);
    assert.match(stderr, /^audiofeed: pull interrupted \(SIGINT\) during epoch 2: 1 of \d+ batches kept in .*; run the same pull with --resume to continue from batch 1\n$/);
    assert.deepEqual(fs.readdirSync(out).filter((f) => f.includes('epoch2')).sort(), ['.mini-training-epoch2.npys.part', '.mini-training-epoch2.npys.part.json']);

    // --resume against the real service: the stand-in's record was of another request
    // (no batch size: other batches), so the epoch starts over, and the file is the real one.
    const resumed = await runCli(['pull', 'mini', '--epochs', '0', '--format', 'npy', '--out', out, '--resume'], { env: env() });
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stdout, /^epoch 0: not resuming \(the service announces \d+ batches from batch 1, the record \d+\); starting the epoch over$/m);
    const direct = Buffer.from(await (await get(`${url}/v1/datasets/mini/batches?subset=training&epoch=0&format=npy`)).arrayBuffer());
    assert.ok(fs.readFileSync(path.join(out, 'mini-training-epoch0.npys')).equals(direct));
    assert.ok(!fs.existsSync(path.join(out, '.mini-training-epoch0.npys.part')));
    // Without --resume a pull starts over: the partial file of epoch 1 is replaced, then gone.
    const fresh = await runCli(['pull', 'mini', '--epochs', '1', '--format', 'npy', '--out', out], { env: env() });
    assert.equal(fresh.code, 0, fresh.stderr);
    assert.deepEqual(fs.readdirSync(out).filter((f) => f.includes('epoch1')), ['mini-training-epoch1.npys']);
  });

  test('an unknown dataset exits 1 with the problem title and detail', async () => {
    const problem = (await (await get(`${url}/v1/datasets/nope`)).json()) as { title: string; detail: string; status: number };
    assert.equal(problem.status, 404);
    const cases = [['datasets', 'show', 'nope'], ['datasets', 'summary', 'nope'], ['featurize', 'nope'], ['pull', 'nope', '--epochs', '0', '--out', work]];
    for (const [i, args] of cases.entries()) {
      // The first as a child process, the others through main() in this process (the same code).
      const r = i === 0 ? await runCli(args, { env: env() }) : await runCliInProcess(args, env());
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      assertOneLine(r.stderr);
      assert.equal(r.stderr, `audiofeed: 404 ${problem.title}: ${problem.detail}\n`);
    }
    // A directory outside every data root: the server's 403 problem, exit 1.
    const r = await runCliInProcess(['datasets', 'register', '/etc', '--classes', 'yes,no'], env());
    assert.equal(r.code, 1, r.stderr);
    assertOneLine(r.stderr);
    assert.match(r.stderr, /^audiofeed: 403 .*outside every allow-listed data root/);
    // A setting the API does not know: its 400, exit 1.
    const bad = await runCliInProcess(['datasets', 'register', 'corpus-mini', '--classes', 'yes,no', '--set', 'colour=blue'], env());
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(bad.stderr, /^audiofeed: 400 Request does not match the schema: .*\(body "colour"\)$/m);
  });

  test('bad usage exits 2 with one line, --help exits 0', async () => {
    const cases = [
      ['datasets'],
      ['datasets', 'frob'],
      ['datasets', 'register', 'corpus-mini'],
      ['datasets', 'register', 'corpus-mini', '--classes', 'yes', '--set', 'nokey'],
      ['datasets', 'register', 'corpus-mini', '--classes', 'yes', '--set', 'frontend_settings={bad'],
      ['datasets', 'show'],
      ['datasets', 'list', '--classes', 'yes'],
      ['featurize'],
      ['featurize', 'mini', '--subset', 'testing'],
      ['pull', 'mini'],
      ['pull', 'mini', '--epochs', '3-1'],
      ['pull', 'mini', '--epochs', '0', '--format', 'csv'],
      ['pull', 'mini', '--epochs', '0', '--batch-size', '0'],
      ['pull', 'mini', '--epochs', '0', '--bogus'],
      ['--url', 'ftp://x', 'datasets', 'list'],
      ['--url', url, 'features', 'x.wav'],
    ];
    // Two as child processes (the exit status of the real binary), all through main() in
    // this process (the same code, without a Node start-up per case).
    const runs = await Promise.all(cases.slice(0, 2).map((args) => runCli(args, { env: env() })));
    for (const [i, args] of cases.entries()) {
      const r = i < runs.length ? runs[i]! : await runCliInProcess(args, env());
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assertOneLine(r.stderr);
      assert.match(r.stderr.trimEnd(), /^audiofeed: .*\(see audiofeed (datasets |featurize |pull )?--help\)$/);
      assert.equal(r.stdout, '');
    }
    const helps = [[['datasets', '--help'], /register <DIR> --classes/], [['featurize', '--help'], /clips\/s/], [['pull', '-h'], /--epochs <list>/], [['help', 'pull'], /--epochs <list>/], [['--help'], /pull <ID>/]] as const;
    for (const [i, [args, want]] of helps.entries()) {
      const r = i === 0 ? await runCli([...args]) : await runCliInProcess([...args], {});
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, want);
      assert.match(r.stdout, /Exit status: .* 3 /s);
    }
  });

  test('nothing listening at the URL exits 3 naming the URL', async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((r) => server.close(() => r()));
    const r = await runCli(['datasets', 'list'], { env: { AUDIOFEED_URL: `http://127.0.0.1:${port}` } });
    assert.equal(r.code, 3, r.stderr);
    assertOneLine(r.stderr);
    assert.match(r.stderr, new RegExp(`cannot reach the service at http://127\\.0\\.0\\.1:${port}: connection refused`));
  });
});

describe('a token-protected service', () => {
  let t: TestApp;
  let url: string;
  before(async () => {
    t = await startTestApp({ API_TOKENS: 'reader-tok:read,admin-tok:admin' });
    smallCorpus(path.join(t.root, 'small'));
    url = await listen(t);
    const res = await fetch(`${url}/v1/datasets`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer admin-tok' },
      body: JSON.stringify({ name: 'small', source: { type: 'directory', path: 'small' }, classes: ['yes', 'no'], batch_size: 4 }),
    });
    assert.equal(res.status, 201, await res.text());
  });
  after(async () => t?.close());

  test('--token and AUDIOFEED_TOKEN are sent; without one the 401 is exit 1', async () => {
    const none = await runCli(['datasets', 'list'], { env: { AUDIOFEED_URL: url } });
    assert.equal(none.code, 1);
    assertOneLine(none.stderr);
    assert.match(none.stderr, /^audiofeed: 401 .*this route needs a token/);

    const wrong = await runCli(['datasets', 'list', '--token', 'nope'], { env: { AUDIOFEED_URL: url } });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /^audiofeed: 401 .*not valid/);

    const reader = await runCli(['datasets', 'register', 'small', '--classes', 'yes,no', '--token', 'reader-tok'], { env: { AUDIOFEED_URL: url } });
    assert.equal(reader.code, 1);
    assert.match(reader.stderr, /^audiofeed: 403 .*admin scope/);

    const admin = await runCli(['datasets', 'register', 'small', '--classes', 'yes,no', '--name', 'small-cli', '--set', 'batch_size=4'], {
      env: { AUDIOFEED_URL: url, AUDIOFEED_TOKEN: 'admin-tok' },
    });
    assert.equal(admin.code, 0, admin.stderr);
    assert.match(admin.stdout, /^registered small-cli: training: \d+ samples, 2 classes, /);

    const list = await runCli(['--token', 'reader-tok', 'datasets', 'list'], { env: { AUDIOFEED_URL: url } });
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^small\s/m);
    assert.match(list.stdout, /^small-cli\s/m);
  });

  test('featurize of a cancelled job (its workers take no job here) exits 1 after its progress lines', async (tt) => {
    const defer = cleanups(tt);
    // Workers that are connected but idle: the job is accepted and waits (without any, the
    // service answers 503 no-workers: test/routes/no-workers.test.ts).
    const idle = await connectIdleWorkers(t);
    defer(() => idle.close());
    const child = spawn(process.execPath, [CLI_BIN, 'featurize', 'small', '--token', 'reader-tok'], {
      env: cliEnv({ AUDIOFEED_URL: url }),
      cwd: os.tmpdir(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    defer(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));

    // Wait for the first progress line (the job exists and is being followed), then cancel it.
    await waitFor(() => / clips \(/.test(stdout) || child.exitCode !== null, { what: "the CLI's first progress line (or its exit)", describe: () => `${stdout}\n${stderr}` });
    const job = /job (featurize-[a-f0-9]{32})/.exec(stdout)?.[1];
    assert.ok(job, `${stdout}\n${stderr}`);
    const del = await fetch(`${url}/v1/jobs/${job}`, { method: 'DELETE', headers: { authorization: 'Bearer admin-tok' } });
    assert.equal(del.status, 202, await del.text());

    const code = await within(exited, 'the CLI exiting once its job is cancelled');
    assert.equal(code, 1, `${stdout}\n${stderr}`);
    assertPlain(stdout);
    assert.match(stdout.trimEnd().split('\n').at(-1)!, /^featurize small\/training: cancelled: 0 of \d+ clips, 0 failed clips$/);
    assert.match(stderr, /the job was cancelled/);
  });
});
