/** Worker threads started by `npm start`, each running the same workers as `npm run worker`. */
import { Worker } from 'node:worker_threads';
import type { WorkerOptions } from './workers.ts';

export interface InProcessWorkers {
  close(): Promise<void>;
}

export function startInProcessWorkers(count: number, opts: Omit<WorkerOptions, 'log'>, log: (msg: string) => void): InProcessWorkers {
  const threads: Worker[] = [];
  for (let i = 0; i < count; i++) {
    const t = new Worker(new URL('./worker-thread-entry.mjs', import.meta.url), { workerData: opts });
    t.on('message', (msg: { log?: string; ready?: boolean; frontend?: string }) => {
      if (msg.log) log(`worker thread ${i}: ${msg.log}`);
      if (msg.ready) log(`worker thread ${i} started (frontend ${msg.frontend})`);
    });
    t.on('error', (err) => log(`worker thread ${i} crashed: ${err.message}`));
    threads.push(t);
  }
  return {
    async close() {
      await Promise.all(
        threads.map(
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
