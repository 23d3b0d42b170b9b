/**
 * Configuration: read from the environment once at start-up, validated against one
 * schema, then passed down explicitly. Nothing below src/main.ts reads process.env.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { envSchema } from 'env-schema';
import { Type, type Static } from 'typebox';

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const EnvSchema = Type.Object({
  HOST: Type.String({ default: '127.0.0.1', minLength: 1 }),
  PORT: Type.Integer({ default: 8080, minimum: 0, maximum: 65535 }),
  REDIS_URL: Type.String({ default: 'redis://127.0.0.1:6379', pattern: '^rediss?://' }),
  /** Prefix of every Redis key and BullMQ queue this instance uses. */
  KEY_PREFIX: Type.String({ default: 'audiofeed', pattern: '^[A-Za-z0-9_.-]+$' }),
  /** Allow-listed dataset roots, separated by `:` or `,`. Directory sources must resolve inside one. */
  DATA_ROOTS: Type.Optional(Type.String()),
  /** Uploads, index artifacts and feature caches live here. */
  DATA_DIR: Type.String({ default: './data', minLength: 1 }),
  /** Directory of server-side loader modules (`{type:"loader"}` sources). */
  LOADERS_DIR: Type.Optional(Type.String()),
  UPLOAD_MAX_BYTES: Type.Integer({ default: 1024 * 1024 * 1024, minimum: 1 }),
  UPLOAD_MAX_FILES: Type.Integer({ default: 200_000, minimum: 1 }),
  UPLOAD_MAX_UNPACKED_BYTES: Type.Integer({ default: 4 * 1024 * 1024 * 1024, minimum: 1 }),
  LOG_LEVEL: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info' }),
  /** auto = native addon when it loads, else TypeScript; native/typescript force one. */
  FRONTEND_BACKEND: Type.Enum(['auto', 'native', 'typescript'], { default: 'auto' }),
  /** Clips processed concurrently by one worker process (shards in flight). */
  WORKER_CONCURRENCY: Type.Integer({ default: 2, minimum: 1, maximum: 64 }),
  /** Job lock lifetime: a job of a killed worker is taken over after about this long. */
  JOB_LOCK_MS: Type.Integer({ default: 30_000, minimum: 1000 }),
  /** Worker threads started inside `npm start` (0 = API only; run `npm run worker` separately). */
  IN_PROCESS_WORKERS: Type.Integer({ default: 1, minimum: 0, maximum: 16 }),
  /** Start a private redis-server when nothing answers at REDIS_URL (development convenience). */
  REDIS_AUTOSTART: Type.Boolean({ default: true }),
});

export type Env = Static<typeof EnvSchema>;

export interface Config {
  host: string;
  port: number;
  redisUrl: string;
  keyPrefix: string;
  dataRoots: string[];
  dataDir: string;
  loadersDir: string;
  uploadMaxBytes: number;
  uploadMaxFiles: number;
  uploadMaxUnpackedBytes: number;
  logLevel: string;
  frontendBackend: 'auto' | 'native' | 'typescript';
  workerConcurrency: number;
  jobLockMs: number;
  inProcessWorkers: number;
  redisAutostart: boolean;
}

export class ConfigError extends Error {}

/** Development defaults: a `datasets/` folder in the checkout and the shared test data beside it. */
function defaultDataRoots(cwd: string): string[] {
  return [path.join(cwd, 'datasets'), path.resolve(cwd, '..', 'shared', 'testdata')].filter((p) => fs.existsSync(p));
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Config {
  let parsed: Env;
  try {
    parsed = envSchema<Env>({ schema: EnvSchema as object, data: env, dotenv: false });
  } catch (err) {
    throw new ConfigError(`invalid configuration: ${(err as Error).message}`);
  }
  const roots =
    parsed.DATA_ROOTS !== undefined && parsed.DATA_ROOTS.trim() !== ''
      ? parsed.DATA_ROOTS.split(/[:,]/).map((s) => s.trim()).filter(Boolean)
      : defaultDataRoots(cwd);
  const dataRoots: string[] = [];
  for (const root of roots) {
    const abs = path.resolve(cwd, root);
    let real: string;
    try {
      real = fs.realpathSync(abs);
    } catch {
      throw new ConfigError(`invalid configuration: DATA_ROOTS entry ${abs} does not exist`);
    }
    if (!fs.statSync(real).isDirectory()) {
      throw new ConfigError(`invalid configuration: DATA_ROOTS entry ${abs} is not a directory`);
    }
    dataRoots.push(real);
  }
  return {
    host: parsed.HOST,
    port: parsed.PORT,
    redisUrl: parsed.REDIS_URL,
    keyPrefix: parsed.KEY_PREFIX,
    dataRoots,
    dataDir: path.resolve(cwd, parsed.DATA_DIR),
    loadersDir: path.resolve(cwd, parsed.LOADERS_DIR ?? path.join(PROJECT_ROOT, 'loaders')),
    uploadMaxBytes: parsed.UPLOAD_MAX_BYTES,
    uploadMaxFiles: parsed.UPLOAD_MAX_FILES,
    uploadMaxUnpackedBytes: parsed.UPLOAD_MAX_UNPACKED_BYTES,
    logLevel: parsed.LOG_LEVEL,
    frontendBackend: parsed.FRONTEND_BACKEND,
    workerConcurrency: parsed.WORKER_CONCURRENCY,
    jobLockMs: parsed.JOB_LOCK_MS,
    inProcessWorkers: parsed.IN_PROCESS_WORKERS,
    redisAutostart: parsed.REDIS_AUTOSTART,
  };
}
