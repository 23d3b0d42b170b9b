/**
 * Worker threads started by `npm start`, each running the same workers as `npm run worker`.
 * A thread that dies is logged as an error and started again (after a pause), so a crash
 * cannot leave the API without workers.
 */
import { Worker } from 'node:worker_threads';
import type { WorkerOptions } from './workers.ts';

export interface InProcessWorkers {
  close(): Promise<void>;
}

export interface ThreadLog {
  info(msg: string): void;
  error(msg: string): void;
}

const RESTART_DELAY_MS = 1000;

export function startInProcessWorkers(count: number, opts: Omit<WorkerOptions, 'log'>, log: ThreadLog): InProcessWorkers {
  let closing = false;
  const threads = new Map<number, Worker>();
  const start = (i: number): void => {
    const t = new Worker(new URL('./worker-thread-entry.mjs', import.meta.url), { workerData: opts });
    threads.set(i, t);
    t.on('message', (msg: { log?: string; ready?: boolean; frontend?: string }) => {
      if (msg.log) log.info(`worker thread ${i}: ${msg.log}`);
      if (msg.ready) log.info(`worker thread ${i} started (frontend ${msg.frontend})`);
    });
    t.on('error', (err) => log.error(`worker thread ${i} crashed: ${err.message}`));
    t.on('exit', (code) => {
      threads.delete(i);
      if (closing) return;
      log.error(`worker thread ${i} exited (code ${code}); restarting it in ${RESTART_DELAY_MS} ms`);
      setTimeout(() => closing || start(i), RESTART_DELAY_MS).unref();
    });
  };
  for (let i = 0; i < count; i++) start(i);
  return {
    async close() {
      closing = true;
      await Promise.all(
        [...threads.values()].map(
          (t) =>
            new Promise<void>((resolve) => {
              t.once('exit', () => resolve());
              t.on('message', (m: { closed?: boolean }) => m.closed && void t.terminate());
              t.postMessage({ close: true });
            }),
        ),
      );
    },
  };
}
