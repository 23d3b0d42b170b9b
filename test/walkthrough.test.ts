/**
 * The README's walkthrough, as a newcomer runs it on a fresh clone: the repository's files
 * (tracked, plus new ones not ignored, so uncommitted work is tested too) are copied into
 * an empty temp directory with no `../shared` beside it; only `node_modules` and `build/`
 * are linked from this checkout, standing in for `npm ci`. There `npm start` serves (with
 * its defaults, so `./datasets` is the only data root; a private Redis key prefix and
 * port), and the README's fenced blocks marked `<!-- walkthrough: … -->` run through bash
 * (Python for the Python block) with `localhost:8080` pointed at that port. The commands
 * come from the README itself, so the README cannot drift from what is tested, and the
 * output the README shows is checked against what the commands print.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from './helpers/paths.ts';
import { cleanups } from './helpers/cleanup.ts';
import { waitFor } from './helpers/wait.ts';
import { closeRedis, deleteKeys, testRedisUrl } from './helpers/app.ts';
import { createRedis, freePort } from '../store/redis.ts';
import { decodeNpy } from '../src/core/tensors/npy.ts';
import { CLIPS_PER_FOLDER, DEMO_CLASSES, DEMO_FOLDERS, DEMO_SETTINGS } from '../scripts/demo.ts';

const README = fs.readFileSync(path.join(PROJECT_ROOT, 'README.md'), 'utf8');

/** The fenced block right after `<!-- walkthrough: NAME … -->` in the README. */
function walkthroughBlock(name: string): string {
  const marker = README.indexOf(`<!-- walkthrough: ${name}`);
  assert.ok(marker >= 0, `README.md has a block marked <!-- walkthrough: ${name} -->`);
  const m = /^-->\s*```[a-z]*\n([\s\S]*?)\n```/.exec(README.slice(README.indexOf('-->', marker)));
  assert.ok(m, `a fenced code block follows <!-- walkthrough: ${name} -->`);
  return m[1]!;
}

/** Copies the repository's files (not .git, nothing ignored) into `dest`. */
function exportRepository(dest: string): void {
  const listed = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: PROJECT_ROOT });
  const files = listed.toString('utf8').split('\0').filter(Boolean);
  assert.ok(files.includes('README.md') && files.includes('package.json'), 'git lists the repository');
  for (const rel of files) {
    const src = path.join(PROJECT_ROOT, rel);
    const st = fs.lstatSync(src, { throwIfNoEntry: false });
    if (!st) continue; // deleted in the working tree, not yet committed
    const dst = path.join(dest, rel);
    fs.mkdirSync(path.dirname(dst), { recursive: true });
    if (st.isSymbolicLink()) fs.symlinkSync(fs.readlinkSync(src), dst);
    else if (st.isFile()) fs.copyFileSync(src, dst);
  }
}

interface Run {
  code: number | null;
  out: string;
  err: string;
}

/** Runs a program in its own process group; kills the group if it outlives `timeoutMs`. */
function run(cmd: string, args: string[], cwd: string, env: Record<string, string>, timeoutMs: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const guard = setTimeout(() => {
      killGroup(child, 'SIGKILL');
      reject(new Error(`${cmd} ${args.join(' ')} did not finish in ${timeoutMs} ms\nstdout:\n${out}\nstderr:\n${err}`));
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(guard);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(guard);
      resolve({ code, out, err });
    });
  });
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // the group is gone already
  }
}

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM to the whole group (npm and the node it started), SIGKILL after 20 s. */
async function stopGroup(child: ChildProcess): Promise<void> {
  killGroup(child, 'SIGTERM');
  const deadline = Date.now() + 20_000;
  while (groupAlive(child.pid!) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (groupAlive(child.pid!)) killGroup(child, 'SIGKILL');
}

test('README walkthrough on a fresh copy of the repository, no ../shared beside it: npm start, npm run demo, curl and Python stream a batch of the advertised shape', async (t) => {
  const defer = cleanups(t);
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'audiofeed-walkthrough-'));
  defer(() => fs.rmSync(base, { recursive: true, force: true }));
  const clone = path.join(base, 'audiofeed');
  exportRepository(clone);
  assert.ok(!fs.existsSync(path.join(clone, '..', 'shared')), 'nothing is beside the copy');
  // What `npm ci` would make, linked instead of installed (the native addon too, when built).
  fs.symlinkSync(path.join(PROJECT_ROOT, 'node_modules'), path.join(clone, 'node_modules'));
  if (fs.existsSync(path.join(PROJECT_ROOT, 'build'))) fs.symlinkSync(path.join(PROJECT_ROOT, 'build'), path.join(clone, 'build'));

  const { url: redisUrl } = await testRedisUrl();
  const prefix = `afwalk${process.pid}`;
  const redis = createRedis(redisUrl);
  defer(async () => {
    await deleteKeys(redis, prefix);
    await closeRedis(redis);
  });

  // The first block of the README: `npm ci && npm start`; npm ci is the links above.
  assert.match(README, /```sh\nnpm ci && npm start\b/);
  const port = await freePort();
  const service = `http://127.0.0.1:${port}`;
  const baseEnv = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? os.tmpdir(), npm_config_update_notifier: 'false' };
  const server = spawn('npm', ['start'], {
    cwd: clone,
    env: { ...baseEnv, REDIS_URL: redisUrl, PORT: String(port), KEY_PREFIX: prefix },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let serverLog = '';
  server.stdout!.on('data', (d: Buffer) => (serverLog += d.toString()));
  server.stderr!.on('data', (d: Buffer) => (serverLog += d.toString()));
  let exited = false;
  server.on('exit', () => (exited = true));
  defer(() => stopGroup(server));

  await waitFor(
    async () => {
      assert.ok(!exited, `npm start exited before it was ready:\n${serverLog}`);
      return fetch(`${service}/readyz`).then((r) => r.status === 200, () => false);
    },
    { what: 'npm start ready (/readyz 200)', everyMs: 250, describe: () => serverLog.slice(-2000) },
  );
  const info = (await (await fetch(`${service}/v1/info`)).json()) as { data_roots: string[] };
  assert.deepEqual(info.data_roots, [fs.realpathSync(path.join(clone, 'datasets'))], 'the only data root is the copy\'s ./datasets');

  const shellEnv = { ...baseEnv, AUDIOFEED_URL: service };
  const local = (code: string) => code.replaceAll('localhost:8080', `127.0.0.1:${port}`);
  const bash = async (code: string) => {
    const r = await run('bash', ['-c', `set -euo pipefail\n${local(code)}`], clone, shellEnv, 180_000);
    assert.equal(r.code, 0, `the walkthrough failed:\n${code}\nstdout:\n${r.out}\nstderr:\n${r.err}\nservice log:\n${serverLog}`);
    return r.out;
  };

  // 1. npm run demo, then the summary and one batch with curl.
  const demoBlock = walkthroughBlock('demo');
  assert.match(demoBlock, /^npm run demo$/m);
  const demoOut = await bash(demoBlock);
  for (const folder of DEMO_FOLDERS) {
    const clips = fs.readdirSync(path.join(clone, 'datasets', 'demo', folder)).filter((f) => f.endsWith('.wav'));
    assert.equal(clips.length, CLIPS_PER_FOLDER, `datasets/demo/${folder}`);
  }
  const dataset = (await (await fetch(`${service}/v1/datasets/demo`)).json()) as { audio_input_shape: number[]; audio_classes: string[] };
  assert.deepEqual(dataset.audio_classes, DEMO_CLASSES);
  const shape = dataset.audio_input_shape;
  assert.deepEqual(shape, [98, 32, 1]);
  const summary = await (await fetch(`${service}/v1/datasets/demo/summary`)).text();
  assert.ok(demoOut.split(summary.trimEnd()).length - 1 >= 2, `npm run demo and curl both print the summary:\n${demoOut}`);
  const batchSize = DEMO_SETTINGS.batch_size;
  assert.ok(demoOut.includes(`streamed batch 0 of training epoch 0: x ${JSON.stringify([batchSize, ...shape])} float32`), demoOut);
  assert.match(demoOut, new RegExp(`^x-audiofeed-x-shape: ${JSON.stringify(shape).replace(/[[\]]/g, '\\$&')}\\r?$`, 'mi'));
  assert.match(demoOut, /^x-audiofeed-batches: 1\r?$/im);
  // The batch curl wrote, read as the README says: x then y.
  const bytes = fs.readFileSync(path.join(clone, 'batch.npys'));
  const x = decodeNpy(bytes);
  const y = decodeNpy(bytes.subarray(x.byteLength));
  assert.deepEqual([x.dtype, x.shape, y.shape], ['float32', [batchSize, ...shape], [batchSize, DEMO_CLASSES.length]]);
  assert.equal(x.byteLength + y.byteLength, bytes.length, 'one batch, nothing after it');
  // The output the README shows is the output the commands print.
  const shown = summary.split('\n').slice(0, summary.split('\n').findIndex((l) => l.startsWith('Validation dataset')) + 1);
  assert.ok(README.includes(shown.join('\n')), `README shows the demo summary as it is:\n${shown.join('\n')}`);

  // npm run demo again: the same corpus, the registered dataset reused.
  const again = await bash('npm run demo');
  assert.match(again, /demo corpus: 60 clips in datasets\/demo\/\S+ \(already there\)/);
  assert.match(again, /dataset demo is already registered: reusing it/);
  assert.ok(again.includes(summary.trimEnd()), again);

  // 2. Python reads the same batch straight from the service.
  const pyBlock = walkthroughBlock('python');
  const py = await run('python3', ['-c', local(pyBlock)], clone, shellEnv, 60_000);
  assert.equal(py.code, 0, `the Python walkthrough failed:\n${py.err}`);
  const printed = py.out.trim();
  assert.equal(printed, `(${[batchSize, ...shape].join(', ')}) float32 (${batchSize}, ${DEMO_CLASSES.length})`);
  assert.ok(pyBlock.includes(`# ${printed}`), `the README's comment shows what Python prints: ${printed}`);

  // 3. Your own folder: a kws folder (here made of demo clips) registered with curl, then
  // the demo block's curl lines with kws for demo.
  const kws = path.join(clone, 'datasets', 'kws');
  for (const [from, to] of [['up', 'yes'], ['down', 'no'], ['other', 'other']]) {
    fs.cpSync(path.join(clone, 'datasets', 'demo', from), path.join(kws, to), { recursive: true });
  }
  const registered = JSON.parse(await bash(walkthroughBlock('your folder'))) as { id: string; audio_classes: string[]; audio_input_shape: number[] };
  assert.equal(registered.id, 'kws');
  assert.deepEqual(registered.audio_classes, ['yes', 'no', '_unknown_', '_silence_']);
  const curlLines = demoBlock.replace(/^npm run demo\n/m, '').replaceAll('/datasets/demo/', '/datasets/kws/');
  const kwsOut = await bash(curlLines);
  assert.match(kwsOut, /^Training dataset: Found \d+ samples belonging to 4 classes:/m);
  assert.match(kwsOut, new RegExp(`^x-audiofeed-x-shape: ${JSON.stringify(registered.audio_input_shape).replace(/[[\]]/g, '\\$&')}\\r?$`, 'mi'));
});
