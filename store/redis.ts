/**
 * Redis connections. `ensureRedis` is what `npm start` uses: it checks REDIS_URL and,
 * when nothing answers and `redis-server` is on PATH, starts a private one on loopback
 * as a child process. It never waits silently: every outcome is logged or thrown.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';

export class RedisUnavailableError extends Error {}

/** A connection for commands: fails fast instead of queueing commands while Redis is down. */
export function createRedis(url: string, opts: RedisOptions = {}): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: 2,
    enableOfflineQueue: true,
    connectTimeout: 3000,
    retryStrategy: (times) => Math.min(times * 200, 2000),
    ...opts,
  });
}

/** One PING with a deadline; never throws. */
export async function pingRedis(url: string, timeoutMs = 1500): Promise<boolean> {
  const client = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    connectTimeout: timeoutMs,
    retryStrategy: () => null,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    const pong = await Promise.race([
      client.ping(),
      new Promise<string>((_, reject) => setTimeout(() => reject(new Error('timeout')), timeoutMs)),
    ]);
    return pong === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

export function which(cmd: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const p = path.join(dir, cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // not in this PATH entry
    }
  }
  return null;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export interface PrivateRedis {
  url: string;
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** Starts `redis-server` on a free loopback port, without persistence, in a temp dir. */
export async function startPrivateRedis(binary = which('redis-server'), port?: number): Promise<PrivateRedis> {
  if (!binary) throw new RedisUnavailableError('redis-server is not on PATH');
  const p = port ?? (await freePort());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'audiofeed-redis-'));
  const child = spawn(
    binary,
    ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = `redis://127.0.0.1:${p}`;
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    if (await pingRedis(url, 300)) {
      return {
        url,
        port: p,
        process: child,
        stop: () =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null) return resolve();
            child.once('exit', () => {
              fs.rmSync(dir, { recursive: true, force: true });
              resolve();
            });
            child.kill('SIGTERM');
          }),
      };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
  throw new RedisUnavailableError(`redis-server did not start on port ${p}: ${stderr.trim() || 'no output'}`);
}

/**
 * Returns a reachable Redis URL: the configured one, or a private child redis-server.
 * Throws RedisUnavailableError with instructions when neither is possible.
 */
export async function ensureRedis(
  url: string,
  autostart: boolean,
  log: { info(msg: string): void; warn(msg: string): void },
): Promise<{ url: string; child: PrivateRedis | null }> {
  if (await pingRedis(url)) return { url, child: null };
  const binary = autostart ? which('redis-server') : null;
  if (!binary) {
    throw new RedisUnavailableError(
      `No Redis answers at ${url}. Start one (e.g. \`apt-get install redis-server && redis-server --daemonize yes\`, ` +
        `or \`docker run -p 6379:6379 redis:7\`) or set REDIS_URL to a reachable server` +
        (autostart ? '; redis-server is not on PATH, so no private one could be started.' : '.'),
    );
  }
  log.warn(`no Redis answers at ${url}; starting a private redis-server (${binary}) on loopback`);
  const child = await startPrivateRedis(binary);
  log.info(`private redis-server listening at ${child.url} (no persistence; it stops with this process)`);
  return { url: child.url, child };
}
