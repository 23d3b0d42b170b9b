/**
 * Signal handling shared by both roles: the first SIGTERM/SIGINT runs `drain` within
 * `graceMs` and exits 0 (1 when it fails or the grace period runs out, after `onGraceOver`);
 * a second signal ends the process at once by that signal.
 */
import type { Logger } from 'pino';

export function onShutdownSignals(
  log: Logger,
  graceMs: number,
  what: string,
  drain: () => Promise<void>,
  onGraceOver: () => void = () => {},
): void {
  let closing = false;
  const handle = async (signal: NodeJS.Signals) => {
    if (closing) {
      log.warn(`${signal} again: exiting now`);
      // Re-raise with the default action: the kernel ends the process now, even with I/O
      // stuck in the thread pool (process.exit() would wait for it). Shells see 128 + n.
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
      return;
    }
    closing = true;
    log.info(`${signal}: ${what} (grace period ${graceMs} ms)`);
    const grace = setTimeout(() => {
      log.warn(`grace period of ${graceMs} ms is over: exiting with work unfinished (jobs are retried by other workers)`);
      onGraceOver();
      process.exit(1);
    }, graceMs);
    try {
      await drain();
    } catch (err) {
      log.error({ err }, 'error during shutdown');
      process.exit(1);
    }
    clearTimeout(grace);
    log.info('shut down cleanly');
    process.exit(0);
  };
  process.on('SIGTERM', (s) => void handle(s));
  process.on('SIGINT', (s) => void handle(s));
}
