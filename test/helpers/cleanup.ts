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
