/** The one waiting helper of the tests (./wait.ts): what it returns and how it fails. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor, within } from './wait.ts';
test('waitFor returns the awaited state, fails naming it with the last value, bounds a hanging check, retries only retryOn errors; within bounds a promise', async () => {
  let n = 0;
  assert.equal(await waitFor(() => ++n, { what: 'n', until: (v) => v >= 3, everyMs: 1 }), 3);
  await assert.rejects(waitFor(() => 7, { what: 'seven is eight', until: (v) => v === 8, timeoutMs: 100, everyMs: 10 }), /waitFor: seven is eight: not reached within 100 ms \(last value seen: 7\)/);
  await assert.rejects(waitFor(() => new Promise(() => {}), { what: 'hang', timeoutMs: 100 }), /a check of it that never returned/);
  await assert.rejects(waitFor(() => { throw new Error('boom'); }, { what: 'x' }), /boom/);
  let k = 0;
  assert.equal(await waitFor(() => { if (++k < 3) throw new Error('ECONNREFUSED'); return 'up'; }, { what: 'x', retryOn: () => true, everyMs: 1 }), 'up');
  await assert.rejects(within(new Promise(() => {}), 'never', 50), /within: never: still pending after 50 ms/);
});
