/**
 * FRONTEND_THREADS (thread-pool threads per shard's featurizeWavs call), UV_THREADPOOL_SIZE
 * and the augmentation settings, validated like every other variable (src/services/config.ts).
 */
import assert from 'node:assert/strict';
import os from 'node:os';
import { test } from 'node:test';
import { ConfigError, loadConfig, threadPoolReport } from '../../src/services/config.ts';

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

test('UV_THREADPOOL_SIZE is reported at start-up, with a warning when it is smaller than the cores', () => {
  assert.equal(loadConfig({}, cwd).threadPoolSize, null);
  assert.deepEqual(threadPoolReport(loadConfig({}, cwd), 2), { line: 'pool threads 4 (UV_THREADPOOL_SIZE unset: libuv default)', warning: null });
  const small = threadPoolReport(loadConfig({ UV_THREADPOOL_SIZE: '4' }, cwd), 16);
  assert.equal(small.line, 'pool threads 4');
  assert.match(small.warning ?? '', /UV_THREADPOOL_SIZE is 4 on 16 cores: native featurization and augmentation use at most 4 of them/);
  assert.equal(threadPoolReport(loadConfig({ UV_THREADPOOL_SIZE: '16' }, cwd), 16).warning, null);
  assert.throws(() => loadConfig({ UV_THREADPOOL_SIZE: '0' }, cwd), (err: unknown) => err instanceof ConfigError && /UV_THREADPOOL_SIZE/.test((err as Error).message));
});

test('AUGMENT_LOOKAHEAD, AUGMENT_BATCH_TTL_MS and AUGMENT_CACHE_MAX_BYTES: defaults and bounds', () => {
  const c = loadConfig({}, cwd);
  assert.deepEqual([c.augmentLookahead, c.augmentBatchTtlMs, c.augmentCacheMaxBytes], [8, 600_000, 1024 ** 3]);
  assert.equal(loadConfig({ AUGMENT_LOOKAHEAD: '0' }, cwd).augmentLookahead, 0);
  for (const [name, v] of [['AUGMENT_LOOKAHEAD', '-1'], ['AUGMENT_LOOKAHEAD', '1025'], ['AUGMENT_BATCH_TTL_MS', '999'], ['AUGMENT_CACHE_MAX_BYTES', '1000']]) {
    assert.throws(() => loadConfig({ [name!]: v! }, cwd), (err: unknown) => err instanceof ConfigError && new RegExp(name!).test((err as Error).message), `${name}=${v}`);
  }
});

test('TRUST_PROXY: unset/false, true, a hop count, or addresses and CIDRs; anything else is a configuration error naming it', () => {
  assert.equal(loadConfig({}, cwd).trustProxy, false);
  assert.equal(loadConfig({ TRUST_PROXY: 'false' }, cwd).trustProxy, false);
  assert.equal(loadConfig({ TRUST_PROXY: 'true' }, cwd).trustProxy, true);
  assert.equal(loadConfig({ TRUST_PROXY: '2' }, cwd).trustProxy, 2);
  assert.deepEqual(loadConfig({ TRUST_PROXY: '127.0.0.1, 10.0.0.0/8,::1,fd00::/8' }, cwd).trustProxy, ['127.0.0.1', '10.0.0.0/8', '::1', 'fd00::/8']);
  for (const v of ['nginx', '10.0.0.0/33', '10.0.0.1/8/1', 'loopback;rm']) {
    assert.throws(() => loadConfig({ TRUST_PROXY: v }, cwd), (err: unknown) => err instanceof ConfigError && /TRUST_PROXY/.test((err as Error).message), v);
  }
});
