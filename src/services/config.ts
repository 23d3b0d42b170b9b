/**
 * Configuration: read from the environment once at start-up, validated against one
 * schema, then passed down explicitly. Nothing below the entry points (routes/server.ts,
 * jobs/worker.ts) reads process.env.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { envSchema } from 'env-schema';
import { Type, type Static } from 'typebox';

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

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
  /**
   * Shard jobs in flight per worker process (or in-process worker thread). 3: while two
   * shards compute on two cores, the worker's thread reads the next shard's files (a
   * first epoch reads them from disk) instead of leaving a core idle meanwhile.
   */
  WORKER_CONCURRENCY: Type.Integer({ default: 3, minimum: 1, maximum: 64 }),
  /** Thread-pool threads one shard's native featurization uses (1: the shards in flight share the cores). */
  FRONTEND_THREADS: Type.Integer({ default: 1, minimum: 1, maximum: 64 }),
  /**
   * libuv's thread pool size (read by libuv itself, before any of our code runs): the native
   * frontend and augmentation calls run on it. `npm start` / `npm run worker` set it to the
   * machine's cores (at least libuv's default 4) unless it is set; it is read here only to be
   * reported at start-up.
   */
  UV_THREADPOOL_SIZE: Type.Optional(Type.Integer({ minimum: 1, maximum: 1024 })),
  /** Job lock lifetime: a job of a killed worker is taken over after about this long. */
  JOB_LOCK_MS: Type.Integer({ default: 30_000, minimum: 1000 }),
  /** Worker threads started inside `npm start` (0 = API only; run `npm run worker` separately). */
  IN_PROCESS_WORKERS: Type.Integer({ default: 1, minimum: 0, maximum: 16 }),
  /** Start a private redis-server when nothing answers at REDIS_URL (development convenience). */
  REDIS_AUTOSTART: Type.Boolean({ default: true }),
  /** `npm run worker` answers /healthz and /readyz on HOST:WORKER_HEALTH_PORT (0 = any free port). */
  WORKER_HEALTH_PORT: Type.Integer({ default: 8081, minimum: 0, maximum: 65535 }),
  /** SIGTERM/SIGINT: in-flight requests, streams and active jobs get this long to finish, then are cut. */
  SHUTDOWN_GRACE_MS: Type.Integer({ default: 30_000, minimum: 0 }),
  /** Bearer tokens with scopes, `token:read,token2:admin`. Unset = no authentication. */
  API_TOKENS: Type.Optional(Type.String()),
  /** Requests per client address per window; 0 = no rate limit. */
  RATE_LIMIT_MAX: Type.Integer({ default: 0, minimum: 0 }),
  RATE_LIMIT_WINDOW_MS: Type.Integer({ default: 60_000, minimum: 1 }),
  /** Origins allowed by CORS (comma list, `*` for any); unset = no CORS headers. */
  CORS_ORIGINS: Type.Optional(Type.String()),
  /**
   * Proxies whose X-Forwarded-For is believed, so the client address (rate limit, stream
   * share, logs) is the client's, not the proxy's: a comma list of addresses or CIDRs
   * (`127.0.0.1,10.0.0.0/8`), a number of hops, or `true` (any: only when nothing else can
   * reach the port). Unset = none: the address is the TCP peer's.
   */
  TRUST_PROXY: Type.Optional(Type.String()),
  /** Time to receive a whole request (headers and body, uploads included); 0 = none. */
  REQUEST_TIMEOUT_MS: Type.Integer({ default: 300_000, minimum: 0 }),
  /** Time to receive the request headers (slowloris guard). */
  HEADERS_TIMEOUT_MS: Type.Integer({ default: 15_000, minimum: 1 }),
  /** Idle keep-alive connections are closed after this long. */
  KEEP_ALIVE_TIMEOUT_MS: Type.Integer({ default: 5_000, minimum: 1 }),
  /** A connection that moves no byte in either direction for this long is closed; 0 = never. */
  CONNECTION_TIMEOUT_MS: Type.Integer({ default: 60_000, minimum: 0 }),
  /** The same for batch streams and server-sent events (they may wait for featurization); 0 = never. */
  STREAM_IDLE_TIMEOUT_MS: Type.Integer({ default: 600_000, minimum: 0 }),
  /** Largest batch a stream may deliver (x, y and weights of one batch, in bytes); larger = 413. */
  MAX_BATCH_BYTES: Type.Integer({ default: 64 * 1024 * 1024, minimum: 1024 }),
  /** Bytes all batch streams of the process may hold at once (each reserves STREAM_BATCHES_IN_FLIGHT batches). */
  STREAM_MEMORY_BUDGET: Type.Integer({ default: 512 * 1024 * 1024, minimum: 1024 }),
  /** How long a stream waits for room in STREAM_MEMORY_BUDGET before it is a 503 with Retry-After. */
  STREAM_BUDGET_WAIT_MS: Type.Integer({ default: 5_000, minimum: 0 }),
  /** Bytes of STREAM_MEMORY_BUDGET the streams of one client (token, or address without auth) may hold; 0 = half the budget. */
  STREAM_CLIENT_BUDGET: Type.Integer({ default: 0, minimum: 0 }),
  /** A stream whose reader takes fewer bytes per second than this over STREAM_MIN_THROUGHPUT_WINDOW_MS (while the stream waits on it) is closed; 0 = never. */
  STREAM_MIN_BYTES_PER_S: Type.Integer({ default: 1024, minimum: 0 }),
  STREAM_MIN_THROUGHPUT_WINDOW_MS: Type.Integer({ default: 60_000, minimum: 10 }),
  /** Entries a dataset subset may hold (`_silence_` included); checked before it is built, larger = 422. */
  MAX_SUBSET_ENTRIES: Type.Integer({ default: 2_000_000, minimum: 1 }),
  /** Bytes DATA_DIR/features may hold: beyond, the least recently used shards are removed (0 = no bound). */
  FEATURE_CACHE_MAX_BYTES: Type.Integer({ default: 0, minimum: 0 }),
  /** A feature file written or read by a stream within this long is never removed (by the size bound or as unused). */
  FEATURE_CACHE_GRACE_MS: Type.Integer({ default: 600_000, minimum: 0 }),
  /** How often an API process collects the feature cache and checks the registry against its manifests (0 = only at start). */
  MAINTENANCE_INTERVAL_MS: Type.Integer({ default: 60_000, minimum: 0 }),
  /**
   * Augmented batches a stream has computed ahead of the one it sends (crossing into the
   * next epoch's first batches near the end of an epoch). 8 keeps two worker processes of
   * WORKER_CONCURRENCY 3 busy for one trainer; 0 = each batch only when it is asked for.
   */
  AUGMENT_LOOKAHEAD: Type.Integer({ default: 8, minimum: 0, maximum: 1024 }),
  /** An augmented batch file nobody has read for this long is removed (precomputed heads, batches of streams that left). */
  AUGMENT_BATCH_TTL_MS: Type.Integer({ default: 600_000, minimum: 1000 }),
  /** Bytes the augmented-batch directory (DATA_DIR/tmp/augment) may hold; the oldest files go first beyond it. */
  AUGMENT_CACHE_MAX_BYTES: Type.Integer({ default: 1024 * 1024 * 1024, minimum: 1024 * 1024 }),
  /**
   * Worker threads that run a request's clip DSP (POST /v1/features, computed sample
   * spectrograms, spectrogram PNGs) off the API's event loop; 0 runs it on the event loop
   * (only for debugging: one heavy clip then stalls every request).
   */
  DSP_THREADS: Type.Integer({ default: 2, minimum: 0, maximum: 64 }),
  /** DSP jobs that may wait for a thread; one more is a 503 dsp-busy with Retry-After. */
  DSP_MAX_QUEUE: Type.Integer({ default: 32, minimum: 0, maximum: 100_000 }),
  /** A DSP job running longer than this is stopped (its thread terminated): 503 dsp-deadline-exceeded. */
  DSP_DEADLINE_MS: Type.Integer({ default: 30_000, minimum: 100 }),
  /** Largest list file (speech_commands_lists' validation_list.txt, testing_list.txt) a registration reads. */
  MAX_LIST_FILE_BYTES: Type.Integer({ default: 64 * 1024 * 1024, minimum: 1 }),
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
  frontendThreads: number;
  /** UV_THREADPOOL_SIZE as the process was started with; null: unset (libuv's default, 4). */
  threadPoolSize: number | null;
  jobLockMs: number;
  inProcessWorkers: number;
  redisAutostart: boolean;
  workerHealthPort: number;
  shutdownGraceMs: number;
  /** Empty = authentication off. Tokens are kept as SHA-256 digests only. */
  apiTokens: ApiToken[];
  rateLimitMax: number;
  rateLimitWindowMs: number;
  corsOrigins: string[];
  /** fastify's trustProxy: false (none), true (any), hops, or addresses/CIDRs. */
  trustProxy: boolean | number | string[];
  requestTimeoutMs: number;
  headersTimeoutMs: number;
  keepAliveTimeoutMs: number;
  connectionTimeoutMs: number;
  streamIdleTimeoutMs: number;
  maxBatchBytes: number;
  streamMemoryBudget: number;
  streamBudgetWaitMs: number;
  /** STREAM_CLIENT_BUDGET, resolved (half the budget by default). */
  streamClientBudget: number;
  streamMinBytesPerS: number;
  streamMinThroughputWindowMs: number;
  maxSubsetEntries: number;
  featureCacheMaxBytes: number;
  featureCacheGraceMs: number;
  maintenanceIntervalMs: number;
  augmentLookahead: number;
  augmentBatchTtlMs: number;
  augmentCacheMaxBytes: number;
  dspThreads: number;
  dspMaxQueue: number;
  dspDeadlineMs: number;
  maxListFileBytes: number;
}

export type Scope = 'read' | 'admin';

export interface ApiToken {
  /** SHA-256 of the token: compared in constant time, never logged. */
  digest: Buffer;
  scope: Scope;
}

/** `tokA:read,tokB:admin` (a token without a scope is read). */
export function parseApiTokens(value: string | undefined): ApiToken[] {
  if (value === undefined || value.trim() === '') return [];
  const tokens: ApiToken[] = [];
  const seen = new Set<string>();
  for (const [i, raw] of value.split(',').entries()) {
    const item = raw.trim();
    if (item === '') continue;
    const at = item.lastIndexOf(':');
    const token = at < 0 ? item : item.slice(0, at);
    const scope = at < 0 ? 'read' : item.slice(at + 1);
    if (scope !== 'read' && scope !== 'admin') {
      throw new ConfigError(`invalid configuration: API_TOKENS entry ${i + 1} has scope ${JSON.stringify(scope)}; use read or admin`);
    }
    if (!/^[\x21-\x7e]+$/.test(token)) {
      throw new ConfigError(`invalid configuration: API_TOKENS entry ${i + 1} is empty or has characters outside printable ASCII`);
    }
    if (seen.has(token)) throw new ConfigError(`invalid configuration: API_TOKENS entry ${i + 1} repeats a token`);
    seen.add(token);
    tokens.push({ digest: crypto.createHash('sha256').update(token).digest(), scope });
  }
  return tokens;
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
  if (parsed.REQUEST_TIMEOUT_MS > 0 && parsed.HEADERS_TIMEOUT_MS > parsed.REQUEST_TIMEOUT_MS) {
    throw new ConfigError('invalid configuration: HEADERS_TIMEOUT_MS must not exceed REQUEST_TIMEOUT_MS');
  }
  if (parsed.STREAM_MEMORY_BUDGET < 2 * parsed.MAX_BATCH_BYTES) {
    // A stream holds two batches in flight (src/services/stream-budget.ts): one largest stream must fit.
    throw new ConfigError('invalid configuration: STREAM_MEMORY_BUDGET must be at least 2 × MAX_BATCH_BYTES');
  }
  if (parsed.STREAM_CLIENT_BUDGET > parsed.STREAM_MEMORY_BUDGET) {
    throw new ConfigError('invalid configuration: STREAM_CLIENT_BUDGET must not exceed STREAM_MEMORY_BUDGET (0 = half of it)');
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
    frontendThreads: parsed.FRONTEND_THREADS,
    threadPoolSize: parsed.UV_THREADPOOL_SIZE ?? null,
    jobLockMs: parsed.JOB_LOCK_MS,
    inProcessWorkers: parsed.IN_PROCESS_WORKERS,
    redisAutostart: parsed.REDIS_AUTOSTART,
    workerHealthPort: parsed.WORKER_HEALTH_PORT,
    shutdownGraceMs: parsed.SHUTDOWN_GRACE_MS,
    apiTokens: parseApiTokens(parsed.API_TOKENS),
    rateLimitMax: parsed.RATE_LIMIT_MAX,
    rateLimitWindowMs: parsed.RATE_LIMIT_WINDOW_MS,
    corsOrigins: (parsed.CORS_ORIGINS ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    trustProxy: parseTrustProxy(parsed.TRUST_PROXY),
    requestTimeoutMs: parsed.REQUEST_TIMEOUT_MS,
    headersTimeoutMs: parsed.HEADERS_TIMEOUT_MS,
    keepAliveTimeoutMs: parsed.KEEP_ALIVE_TIMEOUT_MS,
    connectionTimeoutMs: parsed.CONNECTION_TIMEOUT_MS,
    streamIdleTimeoutMs: parsed.STREAM_IDLE_TIMEOUT_MS,
    maxBatchBytes: parsed.MAX_BATCH_BYTES,
    streamMemoryBudget: parsed.STREAM_MEMORY_BUDGET,
    streamBudgetWaitMs: parsed.STREAM_BUDGET_WAIT_MS,
    streamClientBudget: parsed.STREAM_CLIENT_BUDGET > 0 ? parsed.STREAM_CLIENT_BUDGET : Math.floor(parsed.STREAM_MEMORY_BUDGET / 2),
    streamMinBytesPerS: parsed.STREAM_MIN_BYTES_PER_S,
    streamMinThroughputWindowMs: parsed.STREAM_MIN_THROUGHPUT_WINDOW_MS,
    maxSubsetEntries: parsed.MAX_SUBSET_ENTRIES,
    featureCacheMaxBytes: parsed.FEATURE_CACHE_MAX_BYTES,
    featureCacheGraceMs: parsed.FEATURE_CACHE_GRACE_MS,
    maintenanceIntervalMs: parsed.MAINTENANCE_INTERVAL_MS,
    augmentLookahead: parsed.AUGMENT_LOOKAHEAD,
    augmentBatchTtlMs: parsed.AUGMENT_BATCH_TTL_MS,
    augmentCacheMaxBytes: parsed.AUGMENT_CACHE_MAX_BYTES,
    dspThreads: parsed.DSP_THREADS,
    dspMaxQueue: parsed.DSP_MAX_QUEUE,
    dspDeadlineMs: parsed.DSP_DEADLINE_MS,
    maxListFileBytes: parsed.MAX_LIST_FILE_BYTES,
  };
}

/** TRUST_PROXY: unset/false, true, a hop count, or addresses and CIDRs (each checked here, not at the first request). */
export function parseTrustProxy(value: string | undefined): boolean | number | string[] {
  const v = (value ?? '').trim();
  if (v === '' || v === 'false') return false;
  if (v === 'true') return true;
  if (/^\d+$/.test(v)) return Number(v);
  const list = v.split(',').map((s) => s.trim()).filter(Boolean);
  for (const entry of list) {
    const [addr, bits, extra] = entry.split('/');
    const family = net.isIP(addr ?? '');
    const max = family === 4 ? 32 : 128;
    const bitsOk = bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= max);
    if (family === 0 || !bitsOk || extra !== undefined) {
      throw new ConfigError(
        `invalid configuration: TRUST_PROXY entry ${JSON.stringify(entry)} is not an IP address or CIDR; use a comma list of them, a number of hops, or true`,
      );
    }
  }
  return list;
}

/** libuv's default thread pool size (UV_THREADPOOL_SIZE unset). */
const LIBUV_DEFAULT_POOL = 4;

/**
 * The start-up line about the thread pool: its size, and a warning when it is smaller than
 * the machine's cores (native calls then use only that many of them).
 */
export function threadPoolReport(config: Pick<Config, 'threadPoolSize'>, cores: number): { line: string; warning: string | null } {
  const size = config.threadPoolSize ?? LIBUV_DEFAULT_POOL;
  const line = `pool threads ${size}${config.threadPoolSize === null ? ' (UV_THREADPOOL_SIZE unset: libuv default)' : ''}`;
  const warning =
    size < cores
      ? `UV_THREADPOOL_SIZE is ${size} on ${cores} cores: native featurization and augmentation use at most ${size} of them ` +
        '(start through `npm start` / `npm run worker`, which size the pool to the cores, or set UV_THREADPOOL_SIZE)'
      : null;
  return { line, warning };
}

/** For the entry points: the configuration, or one line on stderr (`<who>: invalid configuration: …`) and exit code 2. */
export function loadConfigOrExit(who: string): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`${who}: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
}
