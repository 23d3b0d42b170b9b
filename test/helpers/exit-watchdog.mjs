/**
 * Loaded into every test file's process by scripts/run-tests.sh (`--import`). Once a file's
 * tests and hooks are done its process must exit by itself; anything still open (a server, a
 * socket, a child process, a timer, a thread blocked on a FIFO) would hang `npm test`. This
 * starts a clock when the file's top-level `after` hooks begin: if the process is still there
 * WATCHDOG_MS later it prints what is still open and ends itself with SIGKILL, so the runner
 * reports the file as failed (by signal) instead of waiting forever. The timer is unref'd:
 * a file that exits normally never sees it.
 *
 * Plain JavaScript: worker threads inherit the --import but not the tsx loader.
 *
 * (Node's --test-force-exit ends the process too, but it can drop results the reporter has
 * not written yet: whole tails of files went missing here with a green summary.)
 */
import { after } from 'node:test';
import { isMainThread } from 'node:worker_threads';

const WATCHDOG_MS = Number(process.env.TEST_EXIT_WATCHDOG_MS ?? 60_000);

// Only in a test file's own main thread (the runner sets NODE_TEST_CONTEXT there): not in the
// runner, and not in worker threads, which inherit the --import and the environment.
if (isMainThread && process.env.NODE_TEST_CONTEXT?.startsWith('child') && WATCHDOG_MS > 0) {
  after(() => {
    const file = process.argv[1] ?? 'this test file';
    setTimeout(() => {
      const open = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap');
      process.stderr.write(
        `exit watchdog: ${file} still running ${WATCHDOG_MS / 1000} s after its last test; open: ${open.join(', ') || 'none'} (a cleanup is missing); killing it\n`,
      );
      process.kill(process.pid, 'SIGKILL');
    }, WATCHDOG_MS).unref();
  });
}
