/**
 * Runs the Python client's test suite (clients/python/tests, unittest-style, so pytest and
 * `python -m unittest` both run it) from `npm test`: the fake-server tests, and the live
 * tests against the real service started here on a loopback port with workers and
 * corpus-mini registered. The live tests must RUN, not be skipped. The interpreter is
 * AUDIOFEED_PYTHON (CI's venv with the package installed) or python3 on the source tree
 * (./python.ts). The framework modules (test_torch.py, test_tf.py) run in their own process each,
 * and only when their framework imports; when it does not, their node test is reported as
 * skipped with the install command, never passed silently.
 */
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { registerCorpus, startLiveService, type LiveService } from './live-service.ts';
import { PYTHON_PACKAGE, run as runProcess, testPython, type Run } from './python.ts';

const TESTS_DIR = path.join(PYTHON_PACKAGE, 'tests');
const ID = 'corpus-mini';
let live: LiveService;

/** Modules that need a framework, with the skip reason their tests give without it. */
const FRAMEWORKS: Record<string, { module: string; reason: string }> = {
  'test_torch.py': {
    module: 'torch',
    reason: "torch is not importable: pip install './clients/python[torch]' 'torch==2.13.0+cpu' (a CPU build, with its dependencies: --no-deps leaves torch unimportable, and an unpinned torch may resolve to a CUDA build whose libraries are missing)",
  },
  'test_tf.py': { module: 'tensorflow', reason: "tensorflow is not importable: pip install './clients/python[tf]'" },
};
const MODULES = fs.readdirSync(TESTS_DIR).filter((f) => /^test_\w+\.py$/.test(f)).sort();
/** numpy-only modules: every one of their tests must pass. */
const CORE = MODULES.filter((f) => !(f in FRAMEWORKS));
/** Modules skipped as a whole without AUDIOFEED_URL/AUDIOFEED_DATASET. */
const LIVE_ONLY = CORE.filter((f) => fs.readFileSync(path.join(TESTS_DIR, f), 'utf8').includes('@unittest.skipUnless(LIVE, SKIP_REASON)'));

// A service that never answers fails the file instead of hanging `npm test`.
before(
  async () => {
    live = await startLiveService();
    await registerCorpus(live, ID);
  },
  { timeout: 240_000 },
);
after(
  async () => {
    await live?.close();
  },
  { timeout: 240_000 },
);

/** The test interpreter (./python.ts) with ARGS in clients/python/tests. */
function python(args: string[], env: Record<string, string | undefined>, timeoutMs: number): Promise<Run> {
  const py = testPython();
  return runProcess(py.command, args, { cwd: TESTS_DIR, env: { ...py.env, ...env }, timeoutMs });
}

/** `python -m unittest -v` over the given test files. */
function unittest(files: string[], env: Record<string, string | undefined>, timeoutMs: number): Promise<Run> {
  return python(['-m', 'unittest', '-v', ...files.map((f) => f.replace(/\.py$/, ''))], env, timeoutMs);
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

/** Every test of `files` ran and passed: `ok` each, `Ran N tests`, and `OK` with no skip. */
function assertAllPassed(run: Run, files: string[]): void {
  assert.equal(run.signal, null, `python was killed (timeout?)\n${run.output}`);
  assert.equal(run.code, 0, run.output);
  const got = results(run.output);
  let total = 0;
  for (const file of files) {
    const mod = file.replace(/\.py$/, '');
    const names = testNames(file);
    assert.ok(names.length > 0, `no tests found in ${file}`);
    total += names.length;
    for (const name of names) assert.equal(got.get(`${mod}.${name}`), 'ok', `${mod}.${name}\n${run.output}`);
  }
  assert.match(run.output, new RegExp(`^Ran ${total} tests? in [\\d.]+s$`, 'm'), run.output);
  // "OK" alone: no "(skipped=N)".
  assert.match(run.output, /^OK$/m, run.output);
}

async function importable(module: string): Promise<boolean> {
  const run = await python(['-c', `import ${module}`], {}, 120_000);
  return run.code === 0;
}

const liveEnv = () => ({ AUDIOFEED_URL: live.baseUrl, AUDIOFEED_DATASET: ID });

test('the Python client suite passes, live tests included, against the real service', { timeout: 240_000 }, async () => {
  assert.ok(testNames('test_live.py').length >= 8, `live tests found: ${testNames('test_live.py').join(', ')}`);
  assert.ok(CORE.includes('test_truncation.py') && CORE.includes('test_client.py'), CORE.join(', '));
  const run = await unittest(CORE, liveEnv(), 150_000);
  assertAllPassed(run, CORE);
});

/**
 * A framework module's tests, all passing, or this node test skipped with the install
 * command when the framework does not import. Returns the run's output (null if skipped).
 */
async function frameworkSuite(t: TestContext, file: string): Promise<string | null> {
  const { module, reason } = FRAMEWORKS[file]!;
  if (!(await importable(module))) {
    t.skip(reason);
    return null;
  }
  const run = await unittest([file], liveEnv(), 420_000);
  assertAllPassed(run, [file]);
  return run.output;
}

/** The per-epoch losses a training test printed (`<name> losses per epoch: 2.1 1.9 …`). */
function losses(output: string, name: string): number[] {
  const line = new RegExp(`^${name} losses per epoch: ([\\d. ]+)$`, 'm').exec(output);
  assert.ok(line, `no "${name} losses per epoch" line\n${output}`);
  return line[1]!.trim().split(/\s+/).map(Number);
}

test('PyTorch: the IterableDataset streams disjoint worker slices and trains with num_workers=2 (test_torch.py)', { timeout: 480_000 }, async (t) => {
  const output = await frameworkSuite(t, 'test_torch.py');
  if (output === null) return;
  const l = losses(output, 'torch_train');
  t.diagnostic(`torch_train loss per epoch (DataLoader num_workers=2): ${l.join(' ')}`);
  assert.ok(l.at(-1)! < 0.9 * l[0]!, `loss did not fall: ${l.join(' ')}`);
});

test('TensorFlow: the tf.data adapter feeds Keras fit with the metadata-built signature (test_tf.py)', { timeout: 480_000 }, async (t) => {
  const output = await frameworkSuite(t, 'test_tf.py');
  if (output === null) return;
  const l = losses(output, 'keras_train');
  t.diagnostic(`keras_train loss per epoch: ${l.join(' ')}`);
  assert.ok(l.at(-1)! < 0.9 * l[0]!, `loss did not fall: ${l.join(' ')}`);
});

test('without AUDIOFEED_URL/AUDIOFEED_DATASET the live tests are skipped with the reason', { timeout: 240_000 }, async () => {
  assert.ok(LIVE_ONLY.includes('test_live.py') && LIVE_ONLY.includes('test_truncation.py'), LIVE_ONLY.join(', '));
  const run = await unittest(LIVE_ONLY, { AUDIOFEED_URL: undefined, AUDIOFEED_DATASET: undefined }, 50_000);
  assert.equal(run.code, 0, run.output);
  const got = results(run.output);
  let total = 0;
  for (const file of LIVE_ONLY) {
    const mod = file.replace(/\.py$/, '');
    for (const name of testNames(file)) {
      total++;
      assert.match(got.get(`${mod}.${name}`) ?? '', /^skipped 'live tests need a running service: set AUDIOFEED_URL/, run.output);
    }
  }
  assert.match(run.output, new RegExp(`^OK \\(skipped=${total}\\)$`, 'm'), run.output);
});
