/**
 * Loads the native addon (build/Release/audiofeed_frontend.node, built by
 * `npm run build:native`) once for every part of the core that uses it: the
 * microfrontend (src/core/frontend/native.ts) and the soxr resampler
 * (src/core/audio/resample.ts). Each of them types the exports it uses. The addon
 * is optional: when it is absent or does not load, `loadNativeAddon()` returns
 * null and says why.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Where node-gyp puts the addon. */
export const NATIVE_ADDON_PATH = path.join(PROJECT_ROOT, 'build', 'Release', 'audiofeed_frontend.node');

let cached: { addon: object | null; reason: string } | undefined;

function load(): { addon: object | null; reason: string } {
  if (!existsSync(NATIVE_ADDON_PATH)) {
    return { addon: null, reason: `${NATIVE_ADDON_PATH} does not exist` };
  }
  try {
    const require = createRequire(import.meta.url);
    return { addon: require(NATIVE_ADDON_PATH) as object, reason: '' };
  } catch (err) {
    // A stale build for another Node ABI or architecture: treat it as absent.
    return { addon: null, reason: `${NATIVE_ADDON_PATH} failed to load: ${(err as Error).message}` };
  }
}

/** The addon's exports, or null when it is not built or does not load. Loaded once. */
export function loadNativeAddon(): object | null {
  cached ??= load();
  return cached.addon;
}

/** Why `loadNativeAddon()` returned null ('' when it loaded). */
export function nativeAddonUnavailableReason(): string {
  cached ??= load();
  return cached.reason;
}
