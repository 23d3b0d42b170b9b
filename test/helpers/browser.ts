/**
 * The Chromium that browser tests drive through playwright-core, found once per process:
 *
 *   1. AUDIOFEED_CHROMIUM, when set: that executable (a missing file is an error, never a
 *      silent fallback, so a wrong setting cannot pass unnoticed);
 *   2. the system's Chromium: /usr/bin/chromium, or `chromium` on PATH;
 *   3. the one inside the npm package @sparticuz/chromium (a devDependency: `npm ci` installs
 *      it, with no install script). Its brotli-packed binary is unpacked once into
 *      <tmpdir>/audiofeed-chromium-<version>/ and reused by later runs.
 *
 * The package's own `executablePath()` unpacks into os.tmpdir() itself (/tmp/chromium, fonts
 * and SwiftShader beside it) and reuses whatever /tmp/chromium it finds, of any version, even
 * one half-written by a concurrent run. So it is pointed at a private staging directory
 * (TMPDIR, read by os.tmpdir() at each call, is set only for the synchronous start of that
 * call), and the finished directory is renamed into place: a reader sees all of it or none.
 *
 * Launch flags: the same small set for every source (headless, no sandbox as root, no
 * background networking on this closed network). The package's `args` are for serverless
 * hosts and include --disable-web-security and --single-process; they are not used, so the
 * page under test keeps its same-origin rules.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** How long playwright may take to start the browser before the test fails. */
export const LAUNCH_TIMEOUT_MS = 60_000;

export interface ChromiumBinary {
  executablePath: string;
  /** Where it came from, for the test's log line and failure messages. */
  source: string;
}

const SYSTEM_CHROMIUM = '/usr/bin/chromium';

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function systemChromium(): string | null {
  if (isExecutable(SYSTEM_CHROMIUM)) return SYSTEM_CHROMIUM;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && isExecutable(path.join(dir, 'chromium'))) return path.join(dir, 'chromium');
  }
  return null;
}

function packageVersion(): string {
  const require = createRequire(import.meta.url);
  let dir = path.dirname(require.resolve('@sparticuz/chromium'));
  for (;;) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) {
      const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === '@sparticuz/chromium' && pkg.version) return pkg.version;
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error('@sparticuz/chromium: package.json not found');
    dir = up;
  }
}

/** Removes staging directories that a killed run left behind (older than an hour). */
function removeStaleStaging(prefix: string): void {
  const tmp = os.tmpdir();
  for (const name of fs.readdirSync(tmp)) {
    if (!name.startsWith(`${prefix}.partial-`)) continue;
    const dir = path.join(tmp, name);
    try {
      if (Date.now() - fs.statSync(dir).mtimeMs > 3_600_000) fs.rmSync(dir, { recursive: true, force: true });
    } catch {
      // Another run removed it first.
    }
  }
}

async function packagedChromium(): Promise<string> {
  const version = packageVersion();
  const name = `audiofeed-chromium-${version}`;
  const finalDir = path.join(os.tmpdir(), name);
  const exe = path.join(finalDir, 'chromium');
  if (isExecutable(exe)) return exe;
  removeStaleStaging(name);
  const { default: Chromium } = await import('@sparticuz/chromium');
  const staging = fs.mkdtempSync(path.join(os.tmpdir(), `${name}.partial-`));
  try {
    const savedTmpdir = process.env.TMPDIR;
    let unpacking: Promise<string>;
    process.env.TMPDIR = staging;
    try {
      unpacking = Chromium.executablePath();
    } finally {
      if (savedTmpdir === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = savedTmpdir;
    }
    const unpacked = await unpacking;
    if (path.dirname(unpacked) !== staging || !isExecutable(unpacked)) {
      throw new Error(`@sparticuz/chromium ${version} unpacked to ${unpacked}, expected ${staging}/chromium`);
    }
    try {
      fs.renameSync(staging, finalDir);
    } catch (err) {
      // A concurrent run finished first: use its copy.
      if (!isExecutable(exe)) throw err;
      fs.rmSync(staging, { recursive: true, force: true });
    }
    return exe;
  } catch (err) {
    fs.rmSync(staging, { recursive: true, force: true });
    throw err;
  }
}

let found: Promise<ChromiumBinary> | null = null;

/** The Chromium to launch (see the file's comment for the order). */
export function findChromium(): Promise<ChromiumBinary> {
  found ??= (async () => {
    const configured = process.env.AUDIOFEED_CHROMIUM;
    if (configured !== undefined && configured !== '') {
      if (!isExecutable(configured)) {
        throw new Error(`AUDIOFEED_CHROMIUM=${configured} is not an executable file (unset it to use the system's or the npm package's Chromium)`);
      }
      return { executablePath: configured, source: 'AUDIOFEED_CHROMIUM' };
    }
    const system = systemChromium();
    if (system) return { executablePath: system, source: 'system' };
    return { executablePath: await packagedChromium(), source: `@sparticuz/chromium ${packageVersion()}` };
  })();
  return found;
}

/**
 * A persistent-profile browser context (a fresh profile directory, removed on close) in the
 * Chromium from findChromium(). A launch failure names the executable and where it came from.
 */
export async function launchChromiumContext(
  options: Omit<NonNullable<Parameters<typeof chromium.launchPersistentContext>[1]>, 'executablePath' | 'args' | 'headless'> = {},
): Promise<{ context: BrowserContext; binary: ChromiumBinary; close(): Promise<void> }> {
  const binary = await findChromium();
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'audiofeed-chromium-profile-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      timeout: LAUNCH_TIMEOUT_MS,
      ...options,
      executablePath: binary.executablePath,
      headless: true,
      args: CHROMIUM_ARGS,
    });
  } catch (err) {
    fs.rmSync(userDataDir, { recursive: true, force: true });
    const first = String((err as Error).message ?? err).split('\n')[0];
    throw new Error(`could not start Chromium ${binary.executablePath} (${binary.source}): ${first}`, { cause: err });
  }
  return {
    context,
    binary,
    async close() {
      try {
        await context.close();
      } finally {
        fs.rmSync(userDataDir, { recursive: true, force: true });
      }
    },
  };
}
