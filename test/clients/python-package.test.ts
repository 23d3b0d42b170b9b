/**
 * Issue #22's "Done when" Python path, as a user would walk it: in a FRESH venv,
 * `pip install ./clients/python` (offline: numpy and the build backend come from pip's
 * configured index), then examples/quickstart.py, run from outside the checkout, registers
 * a directory of WAVs under the service's data root, featurizes it with a progress bar and
 * trains a numpy model on the stream whose loss falls; it deletes the dataset at the end.
 * Also: the built wheel holds py.typed and declares numpy as its only requirement with the
 * [torch] and [tf] extras.
 *
 * pip may try an index it cannot reach (pypi.org) before the configured local ones: with
 * PIP_RETRIES=1 (unless set) that costs milliseconds, not minutes of backoff.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cleanups } from '../helpers/cleanup.ts';
import { CLASSES, startLiveService, type LiveService } from './live-service.ts';
import { PYTHON_PACKAGE, run, type Run } from './python.ts';

let live: LiveService;
let tmp: string;
let venvPython: string;
let pip: string;

const pipEnv = { PIP_RETRIES: process.env.PIP_RETRIES ?? '1', PIP_DISABLE_PIP_VERSION_CHECK: '1', PYTHONPATH: undefined, AUDIOFEED_PYTHON: undefined };

function ok(r: Run, what: string): string {
  assert.equal(r.signal, null, `${what} was killed (timeout?)\n${r.output}`);
  assert.equal(r.code, 0, `${what} failed\n${r.output}`);
  return r.output;
}

/** The version written in the package (pyproject.toml reads it from there). */
function sourceVersion(): string {
  const init = fs.readFileSync(path.join(PYTHON_PACKAGE, 'src', 'audiofeed_client', '__init__.py'), 'utf8');
  const m = /^__version__ = "([^"]+)"$/m.exec(init);
  assert.ok(m, 'no __version__ in audiofeed_client/__init__.py');
  return m[1]!;
}

before(
  async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'audiofeed-pip-'));
    live = await startLiveService();
    ok(await run('python3', ['-m', 'venv', path.join(tmp, 'v')], { cwd: tmp, env: pipEnv, timeoutMs: 120_000 }), 'python3 -m venv');
    venvPython = path.join(tmp, 'v', 'bin', 'python');
    pip = path.join(tmp, 'v', 'bin', 'pip');
  },
  { timeout: 240_000 },
);
after(
  async () => {
    await live?.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  },
  { timeout: 240_000 },
);

test('pip install ./clients/python in a fresh venv, then a script registers a directory, featurizes with a progress bar and trains', { timeout: 300_000 }, async () => {
  ok(await run(pip, ['install', PYTHON_PACKAGE], { cwd: tmp, env: pipEnv, timeoutMs: 240_000 }), 'pip install ./clients/python');
  const where = ok(
    await run(venvPython, ['-c', 'import json, audiofeed_client as a, importlib.resources as r; print(json.dumps([a.__version__, a.__file__, r.files(a).joinpath("py.typed").is_file()]))'], {
      cwd: tmp,
      env: pipEnv,
      timeoutMs: 60_000,
    }),
    'import audiofeed_client',
  );
  const [version, file, typed] = JSON.parse(where.trim().split('\n').at(-1)!) as [string, string, boolean];
  assert.equal(version, sourceVersion());
  assert.ok(file.startsWith(path.join(tmp, 'v')), `imported from ${file}, not from the venv`);
  assert.equal(typed, true, 'py.typed is installed');

  // The user's own directory of WAVs (here corpus-mini), under the service's data root.
  const script = path.join(PYTHON_PACKAGE, 'examples', 'quickstart.py');
  const args = [script, live.baseUrl, live.corpusPath, '--classes', CLASSES.join(','), '--name', 'my-words', '--epochs', '8', '--delete'];
  const output = ok(await run(venvPython, args, { cwd: tmp, env: pipEnv, timeoutMs: 180_000 }), 'quickstart.py');

  assert.match(output, /^registered my-words: 8 classes, input shape \[\d+, \d+, 1\]$/m, output);
  // The plain progress bar (no tqdm in a fresh venv): a line per step, the last at 100%.
  const bars = output.split('\n').filter((l) => l.startsWith('featurize my-words/training: '));
  assert.ok(bars.length >= 1, output);
  assert.match(bars.at(-1)!, /^featurize my-words\/training: 100% (\d+)\/\1 clips, (\d+)\/\2 shards.*completed$/, output);
  assert.match(output, /^featurized \d+ clips \(0 could not be read\)$/m, output);
  const line = /^losses per epoch: ([\d. ]+)$/m.exec(output);
  assert.ok(line, output);
  const losses = line[1]!.trim().split(/\s+/).map(Number);
  assert.equal(losses.length, 8);
  assert.ok(losses.at(-1)! < 0.9 * losses[0]!, `the loss did not fall: ${losses.join(' ')}`);
  assert.match(output, /^deleted my-words$/m, output);
  const gone = await fetch(`${live.baseUrl}/v1/datasets/my-words`);
  assert.equal(gone.status, 404, 'the script deleted its dataset');
});

test('the built wheel holds py.typed and needs only numpy, with [torch] and [tf] extras', { timeout: 240_000 }, async (t) => {
  const defer = cleanups(t);
  const dist = fs.mkdtempSync(path.join(tmp, 'dist-'));
  defer(() => fs.rmSync(dist, { recursive: true, force: true }));
  ok(await run(pip, ['wheel', '--no-deps', '-w', dist, PYTHON_PACKAGE], { cwd: tmp, env: pipEnv, timeoutMs: 180_000 }), 'pip wheel');
  const wheels = fs.readdirSync(dist).filter((f) => f.endsWith('.whl'));
  assert.deepEqual(wheels, [`audiofeed_client-${sourceVersion()}-py3-none-any.whl`]);
  const inspect = `
import json, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
lines = z.read(meta).decode().splitlines()
print(json.dumps({"names": z.namelist(), "requires": [l for l in lines if l.startswith("Requires-Dist:")], "extras": [l for l in lines if l.startswith("Provides-Extra:")]}))
`;
  const out = ok(await run(venvPython, ['-c', inspect, path.join(dist, wheels[0]!)], { cwd: tmp, env: pipEnv, timeoutMs: 60_000 }), 'wheel inspection');
  const info = JSON.parse(out.trim().split('\n').at(-1)!) as { names: string[]; requires: string[]; extras: string[] };
  assert.ok(info.names.includes('audiofeed_client/py.typed'), info.names.join(', '));
  assert.ok(info.names.includes('audiofeed_client/torch.py') && info.names.includes('audiofeed_client/tfdata.py'));
  assert.ok(!info.names.some((n) => n.startsWith('tests/') || n.startsWith('examples/')), 'tests and examples stay out of the wheel');
  const unconditional = info.requires.filter((r) => !r.includes('extra =='));
  assert.deepEqual(unconditional, ['Requires-Dist: numpy>=1.22']);
  for (const extra of ['torch', 'tf']) assert.ok(info.extras.includes(`Provides-Extra: ${extra}`), info.extras.join(', '));
  assert.ok(info.requires.some((r) => /^Requires-Dist: torch>=[\d.]+; extra == 'torch'$/.test(r.replace(/"/g, "'"))), info.requires.join('\n'));
  // The wheel itself installs and imports (over the directory install of the other test).
  ok(await run(pip, ['install', '--force-reinstall', '--no-deps', path.join(dist, wheels[0]!)], { cwd: tmp, env: pipEnv, timeoutMs: 120_000 }), 'pip install the wheel');
  ok(await run(venvPython, ['-c', 'import audiofeed_client.client, audiofeed_client.progress'], { cwd: tmp, env: pipEnv, timeoutMs: 60_000 }), 'import');
});
