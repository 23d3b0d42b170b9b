/**
 * The one way a test waits: for a state, never for a time. `waitFor` polls `check` until
 * it holds and returns what it saw; the deadline is only a backstop against a hang (CI
 * runs on a loaded 2-core machine: a state that needs 5 s at rest can need a minute
 * there), and when it passes the error names what was awaited and the last value seen.
 *
 *   await waitFor(async () => (await t.queues.workersConnected('shards')) > 0, { what: 'a shard worker' });
 *   const job = await waitFor(() => readJob(id), { what: `job ${id} finished`, until: (j) => j.state === 'completed' || j.state === 'failed' });
 *
 * Without `until`, a truthy result ends the wait (and is returned). With `until`, `check`
 * reads the state and `until` says whether it is the one awaited: the value is returned,
 * and shown in the timeout's message. An exception from `check` fails the wait at once
 * (a state that cannot be read is a bug, not a reason to keep polling), unless
 * `retryOn` accepts it (e.g. a connection refused while a server starts).
 */
import { inspect } from 'node:util';

export interface WaitOptions<T> {
  /** What is awaited, for the timeout's message ("the shard files", "a featurization worker connected"). */
  what: string;
  /** The state awaited; default: a truthy value. */
  until?: (value: T) => boolean;
  /** Backstop, not a synchronisation: far longer than the state ever takes. Default 120 s. */
  timeoutMs?: number;
  /** Poll interval (ms). Default 50. */
  everyMs?: number;
  /** Errors of `check` that mean "not yet" (polled again) instead of failing the wait. */
  retryOn?: (err: unknown) => boolean;
  /** What of the last value the timeout's message shows (default: the value, abridged). */
  describe?: (value: T) => unknown;
}

export const DEFAULT_WAIT_MS = 120_000;

const show = (v: unknown) => {
  const text = inspect(v, { depth: 3, breakLength: Infinity, maxStringLength: 500, maxArrayLength: 20 });
  return text.length > 1500 ? `${text.slice(0, 1500)}…` : text;
};

export async function waitFor<T>(check: () => T | Promise<T>, opts: WaitOptions<T>): Promise<T> {
  const { what, until = (v: T) => Boolean(v), timeoutMs = DEFAULT_WAIT_MS, everyMs = 50, retryOn, describe = (v: T) => v } = opts;
  const started = Date.now();
  let seen = false;
  let last: T | undefined;
  let lastError: unknown;
  for (;;) {
    try {
      // A check that never returns (a command to a Redis that does not answer) is bounded too.
      last = await within(Promise.resolve(check()), `waitFor: ${what}: a check of it that never returned`, Math.max(1000, timeoutMs - (Date.now() - started)));
      seen = true;
      lastError = undefined;
      if (until(last)) return last;
    } catch (err) {
      if (!retryOn?.(err)) throw err;
      lastError = err;
    }
    if (Date.now() - started > timeoutMs) {
      const lastSeen = lastError !== undefined ? `the last check failed: ${(lastError as Error)?.message ?? show(lastError)}` : seen ? `last value seen: ${show(describe(last as T))}` : 'no value seen';
      throw new Error(`waitFor: ${what}: not reached within ${timeoutMs} ms (${lastSeen})`);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * A promise the test awaits (an event, a callback), bounded the same way: rejects with a
 * message naming `what` if it is still pending after `timeoutMs`, instead of hanging the file.
 */
export async function within<T>(promise: Promise<T>, what: string, timeoutMs = DEFAULT_WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`within: ${what}: still pending after ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
