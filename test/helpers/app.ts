/**
 * Builds the real app against the real Redis with a private key prefix, a temp data
 * dir and temp data roots; `close()` removes the keys and the directories.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type Config } from '../../src/config.ts';
import { selectFrontendBackend } from '../../src/frontend/backend.ts';
import { buildApp, type App } from '../../src/http/app.ts';
import { RegistryService } from '../../src/registry/service.ts';
import { createRedis, ensureRedis, type PrivateRedis } from '../../src/store/redis.ts';
import { RegistryStore } from '../../src/store/registry-store.ts';
import { FeatureQueues, connectionFromUrl } from '../../src/queue/queues.ts';
import type { Redis } from 'ioredis';

const quiet = { info() {}, warn() {} };

let shared: Promise<{ url: string; child: PrivateRedis | null }> | null = null;
/** One Redis per test process: the machine's, or a private one when none answers. */
export function testRedisUrl(): Promise<{ url: string; child: PrivateRedis | null }> {
  shared ??= ensureRedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', true, quiet).then((r) => {
    if (r.child) {
      // Killed when the test file's process exits; unref'd so it does not keep that process alive.
      r.child.process.unref();
      (r.child.process.stderr as { unref?: () => void } | null)?.unref?.();
      process.once('exit', () => r.child?.process.kill('SIGKILL'));
    }
    return r;
  });
  return shared;
}

export async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}

export interface TestApp {
  app: App;
  config: Config;
  redis: Redis;
  registry: RegistryService;
  queues: FeatureQueues;
  redisUrl: string;
  root: string;
  dataDir: string;
  prefix: string;
  close(): Promise<void>;
}

export async function startTestApp(env: Record<string, string> = {}, roots: string[] = []): Promise<TestApp> {
  const { url } = await testRedisUrl();
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'audiofeed-test-'));
  const root = path.join(base, 'root');
  const dataDir = path.join(base, 'data');
  fs.mkdirSync(root);
  const prefix = `aftest-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
  const config = loadConfig({
    REDIS_URL: url,
    KEY_PREFIX: prefix,
    DATA_ROOTS: [root, ...roots].join(','),
    DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    ...env,
  });
  const redis = createRedis(url);
  const registry = new RegistryService(config, new RegistryStore(redis, prefix), quiet);
  const frontend = selectFrontendBackend(config.frontendBackend, () => {});
  const queues = new FeatureQueues(connectionFromUrl(url), prefix);
  const featuresDir = path.join(dataDir, 'features');
  const app = await buildApp({ config, redis, registry, frontend, queues, featuresDir, version: 'test' }, { logger: false });
  await app.ready();
  return {
    app,
    config,
    redis,
    registry,
    queues,
    redisUrl: url,
    root,
    dataDir,
    prefix,
    async close() {
      await app.close();
      await queues.close();
      await deleteKeys(redis, prefix);
      redis.disconnect();
      fs.rmSync(base, { recursive: true, force: true });
    },
  };
}
