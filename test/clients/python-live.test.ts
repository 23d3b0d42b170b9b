/**
 * Runs the Python client's unittest suite (clients/python/tests) from `npm test`: the
 * fake-server tests, and the live tests against the real service started here on a loopback
 * port with workers and corpus-mini registered. The live tests must RUN, not be skipped.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../helpers/paths.ts';
import { registerCorpus, startLiveService, type LiveService } from './live-service.ts';

const TESTS_DIR = path.join(PROJECT_ROOT, 'clients', 'python', 'tests');
const ID = 'corpus-mini';
let live: LiveService;

// A service that never answers fails the file instead of hanging `npm test`.
before(
  async () => {
    live = await startLiveService();
    await registerCorpus(live, ID);
  },
  { timeout: 60_000 },
);
after(
  async () => {
    await live?.close();
  },
  { timeout: 30_000 },
);

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

/**
 * `python3 -m unittest ...` as a child process. Asynchronous on purpose: the service under
 * test answers from this process's event loop, so a synchronous spawn would deadlock.
 */
function unittest(args: string[], env: Record<string, string | undefined>, timeoutMs: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1' };
    for (const [k, v] of Object.entries(env)) {
      if (v === undefined) delete childEnv[k];
      else childEnv[k] = v;
    }
    const child = spawn('python3', ['-m', 'unittest', ...args], { cwd: PROJECT_ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, output });
    });
  });
}

/** Names of the `def test_*` methods of a test module. */
function testNames(file: string): string[] {
  return [...fs.readFileSync(path.join(TESTS_DIR, file), 'utf8').matchAll(/^ {4}def (test_\w+)\(self/gm)].map((m) => m[1]!);
}

/** unittest -v result per test name: `test_x (module.Class.test_x) ... ok`. */
function results(output: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of output.matchAll(/^(test_\w+) \(([\w.]+)\)(?:\n.*?)? \.\.\. (ok|FAIL|ERROR|skipped.*|expected failure|unexpected success)$/gm)) {
    out.set(`${m[2]!.split('.')[0]}.${m[1]!}`, m[3]!);
  }
  return out;
}

test('the Python client suite passes, live tests included, against the real service', { timeout: 180_000 }, async () => {
  const live_ = testNames('test_live.py');
  const fake = testNames('test_client.py');
  assert.ok(live_.length >= 8, `live tests found: ${live_.join(', ')}`);

  const run = await unittest(['discover', '-s', TESTS_DIR, '-v'], { AUDIOFEED_URL: live.baseUrl, AUDIOFEED_DATASET: ID }, 150_000);
  assert.equal(run.signal, null, `python3 was killed (timeout?)\n${run.output}`);
  assert.equal(run.code, 0, run.output);

  const got = results(run.output);
  for (const name of live_) assert.equal(got.get(`test_live.${name}`), 'ok', `test_live.${name}\n${run.output}`);
  for (const name of fake) assert.equal(got.get(`test_client.${name}`), 'ok', `test_client.${name}\n${run.output}`);
  const total = live_.length + fake.length;
  assert.match(run.output, new RegExp(`^Ran ${total} tests? in [\\d.]+s$`, 'm'), run.output);
  // "OK" alone: no "(skipped=N)".
  assert.match(run.output, /^OK$/m, run.output);
});

test('without AUDIOFEED_URL/AUDIOFEED_DATASET the live tests are skipped with the reason', { timeout: 60_000 }, async () => {
  const run = await unittest(['discover', '-s', TESTS_DIR, '-p', 'test_live.py', '-v'], { AUDIOFEED_URL: undefined, AUDIOFEED_DATASET: undefined }, 50_000);
  assert.equal(run.code, 0, run.output);
  const names = testNames('test_live.py');
  const got = results(run.output);
  for (const name of names) {
    assert.match(got.get(`test_live.${name}`) ?? '', /^skipped 'live tests need a running service: set AUDIOFEED_URL/, run.output);
  }
  assert.match(run.output, new RegExp(`^OK \\(skipped=${names.length}\\)$`, 'm'), run.output);
});
