/**
 * FRONTEND_THREADS: thread-pool threads per shard's featurizeWavs call, validated like
 * every other variable (src/services/config.ts).
 */
import assert from 'node:assert/strict';
import os from 'node:os';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/services/config.ts';

const cwd = os.tmpdir();

test('FRONTEND_THREADS defaults to 1 (with WORKER_CONCURRENCY 3: three shards on one thread each)', () => {
  const c = loadConfig({}, cwd);
  assert.equal(c.frontendThreads, 1);
  assert.equal(c.workerConcurrency, 3);
});

test('FRONTEND_THREADS takes a positive integer', () => {
  assert.equal(loadConfig({ FRONTEND_THREADS: '2' }, cwd).frontendThreads, 2);
});

test('FRONTEND_THREADS rejects 0, fractions and words with a configuration error naming it', () => {
  for (const v of ['0', '1.5', 'two', '65']) {
    assert.throws(() => loadConfig({ FRONTEND_THREADS: v }, cwd), (err: unknown) => err instanceof ConfigError && /FRONTEND_THREADS/.test((err as Error).message), v);
  }
});
