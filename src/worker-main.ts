/**
 * `npm run worker`: a worker process (any number of them, on any host that sees Redis
 * and the data directory). Closes gracefully on SIGTERM/SIGINT: active jobs finish.
 */
import pino from 'pino';
import { ConfigError, loadConfig } from './config.ts';
import { startWorkers } from './queue/workers.ts';
import { pingRedis } from './store/redis.ts';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`audiofeed worker: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  const log = pino({ level: config.logLevel });
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
    frontendBackend: config.frontendBackend,
    lockMs: config.jobLockMs,
    log: (m) => log.info(m),
  });
  log.info(`worker started (frontend ${running.frontend}, concurrency ${config.workerConcurrency})`);
  let closing = false;
  const stop = async (signal: string) => {
    if (closing) process.exit(1);
    closing = true;
    log.info(`${signal}: finishing active jobs`);
    await running.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

void main();
