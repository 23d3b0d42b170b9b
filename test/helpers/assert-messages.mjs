/**
 * Loaded into every test file's process by scripts/run-tests.sh (`--import`). When
 * `assert.ok(value)` fails without a message, Node builds one by reading the call site's
 * source and parsing it with acorn, retrying on ever larger slices when it does not parse;
 * a TypeScript file (tsx) never parses, and in a large test file that search ran for
 * minutes on one failed assertion: the failure looked like a hang, and the file was killed
 * by the runner's timeout instead of reporting what failed. Here a failed `assert.ok`
 * without a message gets a fixed one at once; the stack names the line.
 *
 * Plain JavaScript: worker threads inherit the --import but not the tsx loader.
 */
import assert from 'node:assert';

const ok = assert.ok;
function okWithMessage(value, message, ...rest) {
  if (arguments.length >= 2) return ok(value, message, ...rest);
  return ok(value, `expected a truthy value, got ${typeof value === 'object' ? String(value) : JSON.stringify(value) ?? String(value)}`);
}
assert.ok = okWithMessage;
assert.strict.ok = okWithMessage;
