/**
 * The service without the native addon (so without libsoxr): runs
 * test/routes/without-native-addon.child.ts in a child process whose addon fails to load
 * (test/helpers/hide-native-addon.mjs) and requires every check there to pass.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { PROJECT_ROOT } from '../helpers/paths.ts';

test('without the native addon: starts, serves 16 kHz clips, refuses other rates by name (child process)', async () => {
  const child = spawn(
    process.execPath,
    [
      '--import', 'tsx',
      '--import', './test/helpers/exit-watchdog.mjs',
      '--import', './test/helpers/hide-native-addon.mjs',
      '--test-reporter=tap',
      path.join('test', 'routes', 'without-native-addon.child.ts'),
    ],
    // Without NODE_TEST_CONTEXT the child reports in TAP, not to this runner.
    { cwd: PROJECT_ROOT, env: { ...process.env, NODE_TEST_CONTEXT: undefined }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const guard = setTimeout(() => child.kill('SIGKILL'), 240_000);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearTimeout(guard);
  assert.equal(code, 0, out);
  assert.match(out, /^# pass 5$/m, out);
  assert.match(out, /^# fail 0$/m, out);
});
