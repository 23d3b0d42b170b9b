/** The native addon, or a failed assertion that says how to build it (tests that need it never skip). */
import assert from 'node:assert/strict';
import { loadNativeFrontend, nativeFrontendUnavailableReason, type NativeFrontend } from '../../src/core/frontend/native.ts';

export function requireNative(): NativeFrontend {
  const native = loadNativeFrontend();
  if (native === null) {
    assert.fail(`native frontend addon not available (${nativeFrontendUnavailableReason()}); build it with: npm run build:native`);
  }
  return native;
}
