/**
 * `npm start`: the API with in-process workers. Reads configuration once, makes sure
 * Redis answers (starting a private redis-server when allowed), wires the services
 * (routes/compose.ts), builds the app (routes/app.ts), then listens.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { PROJECT_ROOT, loadConfigOrExit, threadPoolReport } from '../src/services/config.ts';
import { resamplerLogLine, resamplerStatus } from '../src/core/audio/index.ts';
import { loggerOptions } from '../src/services/logging.ts';
import { onShutdownSignals } from '../src/services/shutdown.ts';
import { startInProcessWorkers } from '../jobs/in-process.ts';
import { RedisUnavailableError, ensureRedis } from '../store/redis.ts';
import { buildApp } from './app.ts';
import { createServices } from './compose.ts';

const version = (JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

async function main(): Promise<void> {
  const config = loadConfigOrExit('audiofeed');
  const log = pino(loggerOptions(config.logLevel));
  let redisInfo;
  try {
    redisInfo = await ensureRedis(config.redisUrl, config.redisAutostart, log);
  } catch (err) {
    if (err instanceof RedisUnavailableError) {
      log.fatal(err.message);
      console.error(`audiofeed: ${err.message}`);
      process.exit(3);
    }
    throw err;
  }
  const services = createServices(config, {
    version,
    log,
    redisUrl: redisInfo.url,
    onRedisError: (err) => log.warn({ err: err.message }, 'redis connection error'),
  });
  const pool = threadPoolReport(config, os.availableParallelism());
  log.info(`frontend backend: ${services.ctx.frontend.name}, ${pool.line}`);
  log.info(
    config.dspThreads > 0
      ? `DSP threads ${config.dspThreads} (queue ${config.dspMaxQueue}, deadline ${config.dspDeadlineMs} ms): POST /v1/features and previews run off the event loop`
      : 'DSP_THREADS=0: POST /v1/features and previews run on the event loop (debugging only)',
  );
  if (pool.warning && config.inProcessWorkers > 0) log.warn(pool.warning);
  if (resamplerStatus().engine === null) log.warn(resamplerLogLine());
  else log.info(resamplerLogLine());
  const app = await buildApp(services.ctx, { loggerInstance: log });
  // Queue connections up before the first request (and before a signal may close them).
  await services.ready();
  // Registry recovery from the manifests, then every MAINTENANCE_INTERVAL_MS: manifests, feature cache.
  services.maintenance.start();
  const workers = startInProcessWorkers(
    config.inProcessWorkers,
    {
      redisUrl: redisInfo.url,
      prefix: config.keyPrefix,
      concurrency: config.workerConcurrency,
      frontendThreads: config.frontendThreads,
      frontendBackend: config.frontendBackend,
      lockMs: config.jobLockMs,
    },
    { info: (m) => log.info(m), error: (m) => log.error(m) },
  );

  // Graceful shutdown. First SIGTERM/SIGINT: stop accepting, let in-flight requests and
  // batch streams finish (SSE streams are closed: clients reconnect elsewhere), then let
  // the in-process workers finish their active jobs (in that order: a stream may wait
  // for a shard those workers compute), exit 0. If that takes longer than
  // SHUTDOWN_GRACE_MS, remaining connections are cut and the process exits 1 (the
  // interrupted jobs are retried by other workers once their locks expire). A second
  // signal ends the process at once by that signal (a shell or Docker shows 130 for
  // SIGINT, 143 for SIGTERM).
  onShutdownSignals(
    log,
    config.shutdownGraceMs,
    'shutting down',
    async () => {
      await app.close();
      log.info('http server closed; waiting for active jobs of the in-process workers');
      await workers.close();
      await services.close();
      await redisInfo.child?.stop();
    },
    () => {
      app.server.closeAllConnections();
      void redisInfo.child?.stop();
    },
  );

  await app.listen({ host: config.host, port: config.port });
  // One DSP thread boots now rather than on the first spectrogram or feature request.
  services.ctx.dsp.warm();
  log.info(`data roots: ${config.dataRoots.join(', ') || '(none: set DATA_ROOTS)'}; data dir: ${config.dataDir}`);
}

void main();
