/**
 * Cleanups that run when a test (or a suite's hook) ends, passed or failed, last registered
 * first: a browser is closed before the service it talks to, a client before its server.
 * Node's own t.after runs hooks in the order they were added, and stops at the first that
 * throws; this runs every one and then reports the first error.
 *
 *   test('…', async (t) => {
 *     const defer = cleanups(t);
 *     const svc = await startService(); defer(() => svc.close());
 *     const browser = await open(svc); defer(() => browser.close());
 *   });
 */
export type Defer = (fn: () => unknown) => void;

export function cleanups(t: { after(fn: () => Promise<void>): void }): Defer {
  const stack: (() => unknown)[] = [];
  t.after(async () => {
    let first: unknown;
    while (stack.length > 0) {
      try {
        await stack.pop()!();
      } catch (err) {
        first ??= err;
      }
    }
    if (first !== undefined) throw first;
  });
  return (fn) => {
    stack.push(fn);
  };
}

/**
 * For a suite's after(): closes every resource in order (workers before the app they work
 * for), each even when one before it threw or was never made (a before() that failed half
 * way leaves some undefined: pass `() => workers?.close()`); then throws the first error.
 * A sequence of plain awaits would stop at the first failure and leave the rest open (the
 * file's process then stays alive on their connections).
 */
export async function closeAll(...closers: (() => unknown)[]): Promise<void> {
  let first: unknown;
  for (const close of closers) {
    try {
      await close();
    } catch (err) {
      first ??= err;
    }
  }
  if (first !== undefined) throw first;
}
