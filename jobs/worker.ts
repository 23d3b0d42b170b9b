/**
 * `npm run worker`: a worker process (any number of them, on any host that sees Redis
 * and the data directory).
 *
 * It also answers GET /healthz (200 while running, 503 once closing) and GET /readyz
 * (Redis answers) on HOST:WORKER_HEALTH_PORT (default 8081, beside the API's 8080), so
 * the image's HEALTHCHECK works for both roles; no host port needs publishing for it.
 *
 * Shutdown: the first SIGTERM/SIGINT stops taking jobs and waits for the active ones
 * (BullMQ's worker.close()), then exits 0; past SHUTDOWN_GRACE_MS it exits 1 and the
 * unfinished jobs are retried elsewhere once their locks (JOB_LOCK_MS) expire. A second
 * signal ends the process at once by that signal (exit status 128 + n: 143 for SIGTERM).
 */
import http from 'node:http';
import os from 'node:os';
import pino from 'pino';
import { loadConfigOrExit, threadPoolReport } from '../src/services/config.ts';
import { resamplerLogLine, resamplerStatus } from '../src/core/audio/index.ts';
import { loggerOptions } from '../src/services/logging.ts';
import { startWorkers } from './workers.ts';
import { onShutdownSignals } from '../src/services/shutdown.ts';
import { pingRedis } from '../store/redis.ts';

async function main(): Promise<void> {
  const config = loadConfigOrExit('audiofeed worker');
  const log = pino(loggerOptions(config.logLevel));
  if (!(await pingRedis(config.redisUrl, 3000))) {
    const msg = `no Redis answers at ${config.redisUrl}; a worker needs the same Redis as the API (set REDIS_URL)`;
    log.fatal(msg);
    console.error(`audiofeed worker: ${msg}`);
    process.exit(3);
  }
  const running = startWorkers({
    redisUrl: config.redisUrl,
    prefix: config.keyPrefix,
    concurrency: config.workerConcurrency,
    frontendThreads: config.frontendThreads,
    frontendBackend: config.frontendBackend,
    lockMs: config.jobLockMs,
    log: (m, fields) => log.info(fields ?? {}, m),
  });
  const pool = threadPoolReport(config, os.availableParallelism());
  log.info(`worker started (frontend ${running.frontend}, concurrency ${config.workerConcurrency}, frontend threads ${config.frontendThreads}, ${pool.line})`);
  if (pool.warning) log.warn(pool.warning);
  if (resamplerStatus().engine === null) log.warn(resamplerLogLine());
  else log.info(resamplerLogLine());

  let closing = false;
  const health = http.createServer((req, res) => {
    const send = (status: number, body: object) => {
      res.writeHead(status, { 'content-type': status === 200 ? 'application/json' : 'application/problem+json' });
      res.end(JSON.stringify(body));
    };
    const url = (req.url ?? '').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, { status: 405, title: 'Method not allowed' });
    if (url === '/healthz') {
      return closing ? send(503, { status: 503, title: 'Shutting down', detail: 'the worker is finishing its active jobs' }) : send(200, { status: 'ok', role: 'worker' });
    }
    if (url === '/readyz') {
      void pingRedis(config.redisUrl, 1000).then((ok) =>
        ok ? send(200, { status: 'ready', role: 'worker' }) : send(503, { status: 503, title: 'Not ready', detail: 'Redis does not answer' }),
      );
      return;
    }
    send(404, { status: 404, title: 'Not found' });
  });
  health.requestTimeout = 5000;
  health.headersTimeout = 5000;
  health.on('error', (err) => log.warn({ err: err.message }, 'worker health endpoint not available'));
  health.listen(config.workerHealthPort, config.host, () => {
    const addr = health.address();
    log.info(`worker health endpoint at ${typeof addr === 'object' && addr ? `${addr.address}:${addr.port}` : String(addr)}`);
  });

  onShutdownSignals(log, config.shutdownGraceMs, 'finishing active jobs', async () => {
    closing = true; // /healthz answers 503 from now on
    await running.close();
    health.close();
  });
}

void main();
