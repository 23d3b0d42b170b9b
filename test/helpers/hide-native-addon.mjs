// Preloaded (--import) by test/routes/without-native-addon.test.ts into a child process:
// loading the native addon fails there as it does on a machine where it was not built (or
// not for this Node), so that process runs with no native frontend and no libsoxr.
import process from 'node:process';

const dlopen = process.dlopen;
process.dlopen = function hiddenAddon(module, filename, ...rest) {
  if (String(filename).endsWith('audiofeed_frontend.node')) {
    throw new Error('hidden by test/helpers/hide-native-addon.mjs');
  }
  return dlopen.call(this, module, filename, ...rest);
};
