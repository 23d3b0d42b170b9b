/**
 * Preloaded (`node --import`) into the service processes the benchmarks spawn: when the
 * benchmark process goes away for any reason (even SIGKILL), the IPC channel closes and
 * this process shuts down the way the service does on SIGTERM, so no worker or API
 * process outlives its benchmark. Without an IPC channel it does nothing.
 *
 * Plain JavaScript (.mjs): worker threads inherit the preload flags, and `npm start`'s
 * in-process worker threads load it before tsx is registered in them; there (not the
 * main thread) it does nothing.
 */
import { isMainThread } from 'node:worker_threads';

if (isMainThread && typeof process.send === 'function') {
  process.on('disconnect', () => {
    setTimeout(() => process.exit(1), 10_000).unref();
    process.kill(process.pid, 'SIGTERM');
  });
  // The channel must not keep an otherwise finished process alive.
  process.channel?.unref();
}
