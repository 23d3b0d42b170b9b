/**
 * Entry of the in-process workers under `npm start`: a worker thread with its own event
 * loop, so decoding and the frontend never run on the API's event loop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { startWorkers, type WorkerOptions } from './workers.ts';

const opts = workerData as Omit<WorkerOptions, 'log'>;
const running = startWorkers({ ...opts, log: (msg) => parentPort?.postMessage({ log: msg }) });
parentPort?.postMessage({ ready: true, frontend: running.frontend });
parentPort?.on('message', (msg: { close?: boolean }) => {
  if (msg.close) void running.close().then(() => parentPort?.postMessage({ closed: true }));
});
