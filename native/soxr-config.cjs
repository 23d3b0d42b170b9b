// binding.gyp asks this script whether to build with libsoxr and how, so the addon
// builds with Debian's libsoxr when `pkg-config soxr` finds it and without it
// (SoxrVersion() null: non-16 kHz clips are refused by name) when it does not.
// AUDIOFEED_SOXR=0 builds without it on purpose (to check that path).
//   node native/soxr-config.cjs enabled   -> 1 or 0
//   node native/soxr-config.cjs cflags    -> pkg-config --cflags soxr
//   node native/soxr-config.cjs libs      -> pkg-config --libs soxr
'use strict';
const { execFileSync } = require('node:child_process');

function pkgConfig(...args) {
  return execFileSync('pkg-config', [...args, 'soxr'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
}

function enabled() {
  if (process.env.AUDIOFEED_SOXR === '0') return false;
  try {
    pkgConfig('--exists');
    return true;
  } catch {
    return false;
  }
}

const what = process.argv[2];
const on = enabled();
if (what === 'enabled') {
  if (!on && process.env.AUDIOFEED_SOXR !== '0') {
    console.error('audiofeed: libsoxr not found (pkg-config soxr): building without it; non-16 kHz clips will be refused. Install libsoxr-dev to resample.');
  }
  process.stdout.write(on ? '1' : '0');
} else if (what === 'cflags' || what === 'libs') {
  process.stdout.write(on ? pkgConfig(`--${what}`) : '');
} else {
  console.error('usage: node native/soxr-config.cjs enabled|cflags|libs');
  process.exit(2);
}
