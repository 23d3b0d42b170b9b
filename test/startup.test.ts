/**
 * `npm start` start-up: invalid configuration is one clear message and exit code 2; with
 * no Redis and no private one allowed it exits with instructions; with redis-server on
 * PATH it starts a private one on loopback, says so, and serves.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from './helpers/paths.ts';
import { waitFor } from './helpers/wait.ts';
import { createRedis, freePort } from '../store/redis.ts';
import { closeRedis, deleteKeys, testRedisUrl } from './helpers/app.ts';

interface Run {
  code: number | null;
  out: string;
}

/** Runs routes/server.ts until it exits, or until `until(output)` holds (then SIGTERM). */
function runMain(env: Record<string, string>, until?: (out: string) => boolean): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, 'routes/server.ts')], {
      cwd: PROJECT_ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let signalled = false;
    const onData = (d: Buffer) => {
      out += d.toString();
      if (until && !signalled && until(out)) {
        signalled = true;
        child.kill('SIGTERM');
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const guard = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`main did not finish; output:\n${out}`));
    }, 180_000); // a backstop against a hang, not a synchronisation
    child.on('exit', (code) => {
      clearTimeout(guard);
      resolve({ code, out });
    });
  });
}

test('invalid configuration: one message, exit code 2', async () => {
  const r = await runMain({ PORT: 'eighty' });
  assert.equal(r.code, 2);
  assert.match(r.out, /audiofeed: invalid configuration: .*PORT/);
});

test('no Redis and no private one allowed: exits saying how to get Redis', async () => {
  // REDIS_AUTOSTART=false takes the same path as a machine without redis-server on PATH.
  const port = await freePort();
  const r = await runMain({ REDIS_URL: `redis://127.0.0.1:${port}`, REDIS_AUTOSTART: 'false', LOG_LEVEL: 'silent' });
  assert.equal(r.code, 3);
  assert.match(r.out, new RegExp(`No Redis answers at redis://127.0.0.1:${port}`));
  assert.match(r.out, /apt-get install redis-server|REDIS_URL/);
});

test('no Redis but redis-server on PATH: a private one is started and the API serves', async () => {
  const port = await freePort();
  const apiPort = await freePort();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'af-start-'));
  try {
    const r = await runMain(
      {
        REDIS_URL: `redis://127.0.0.1:${port}`,
        PORT: String(apiPort),
        DATA_DIR: dataDir,
        KEY_PREFIX: `afstart${process.pid}`,
        IN_PROCESS_WORKERS: '0',
      },
      (out) => /data roots:/.test(out), // logged once listening
    );
    assert.match(r.out, /starting a private redis-server/);
    assert.match(r.out, /private redis-server listening at redis:\/\/127\.0\.0\.1:\d+/);
    assert.match(r.out, /Server listening at http:\/\/127\.0\.0\.1:\d+/);
    assert.equal(r.code, 0, 'SIGTERM shuts down cleanly');
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test('/readyz of the real `npm start`: 503 not-ready while no featurization worker is connected, 200 once the in-process one is', async () => {
  const { url } = await testRedisUrl();
  const redis = createRedis(url);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'af-ready-'));
  const prefix = `afready${process.pid}`;
  try {
    for (const workers of ['0', '1']) {
      const apiPort = await freePort();
      const child = spawn(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, 'routes/server.ts')], {
        cwd: PROJECT_ROOT,
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', REDIS_URL: url, PORT: String(apiPort), DATA_DIR: dataDir, KEY_PREFIX: `${prefix}w${workers}`, IN_PROCESS_WORKERS: workers },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      try {
        await waitFor(() => /data roots:/.test(out) || child.exitCode !== null, { what: 'the server listening ("data roots:" logged)' });
        assert.match(out, /data roots:/, 'the server listens');
        const answers: number[] = [];
        const readyz = async () => {
          const res = await fetch(`http://127.0.0.1:${apiPort}/readyz`);
          const body = (await res.json()) as { detail?: string };
          answers.push(res.status);
          if (res.status === 503) assert.match(String(body.detail), /worker/);
          return res.status;
        };
        if (workers === '0') {
          // Nothing will ever connect: every answer is a 503 naming the workers.
          for (let i = 0; i < 5; i++) await readyz();
          assert.ok(answers.every((s) => s === 503), JSON.stringify(answers));
          // One DSP thread is booted at start, before any request needs it.
          const started = async () => {
            const body = await (await fetch(`http://127.0.0.1:${apiPort}/metrics`)).text();
            return Number(/^audiofeed_dsp_threads_started (\d+)$/m.exec(body)?.[1] ?? NaN);
          };
          assert.equal(await waitFor(started, { what: 'a DSP thread started by npm start', until: (n) => n === 1, everyMs: 50 }), 1);
        } else {
          await waitFor(readyz, { what: 'the in-process worker connected (/readyz 200)', until: (s) => s === 200, everyMs: 100 });
        }
        assert.equal((await fetch(`http://127.0.0.1:${apiPort}/healthz`)).status, 200);
      } finally {
        child.kill('SIGTERM');
        const guard = setTimeout(() => child.kill('SIGKILL'), 20_000);
        await exited;
        clearTimeout(guard);
      }
    }
  } finally {
    for (const w of ['0', '1']) await deleteKeys(redis, `${prefix}w${w}`);
    await closeRedis(redis);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
