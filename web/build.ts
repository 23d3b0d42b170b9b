/**
 * Builds the dashboard (web/src/main.ts bundled by esbuild, plus web/index.html and
 * web/style.css) into web/dist/, and loads the built files for serving.
 *
 * The build is keyed by a hash of its inputs (the sources, this file, the esbuild
 * version): web/dist/build.json records it, so `ensureDashboardAssets()` (called when the
 * server starts) rebuilds only when web/dist is missing or stale, and a checkout with a
 * fresh web/dist does not need esbuild at all. Files are written to temp names and
 * renamed, so concurrent builders (replicas, test processes) never expose half a file;
 * when web/dist cannot be written (read-only image) the build is served from memory.
 *
 * CLI: `npx tsx web/build.ts` (always rebuilds).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const WEB_DIR = path.dirname(fileURLToPath(import.meta.url));
export const DIST_DIR = path.join(WEB_DIR, 'dist');
const SRC_DIR = path.join(WEB_DIR, 'src');
const STATIC_FILES = ['index.html', 'style.css'];
const MANIFEST = 'build.json';

export interface DashboardAsset {
  body: Buffer;
  contentType: string;
  etag: string;
}

export interface DashboardAssets {
  /** Hash of the build inputs. */
  hash: string;
  /** By file name: index.html, style.css, main.js, main.js.map. */
  files: Map<string, DashboardAsset>;
  /** How this process got them. */
  origin: 'dist' | 'built' | 'built-in-memory';
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

function listSources(dir: string): string[] {
  const out: string[] = [];
  for (const d of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, d.name);
    if (d.isDirectory()) out.push(...listSources(p));
    else if (d.isFile()) out.push(p);
  }
  return out;
}

function esbuildVersion(): string {
  try {
    const pkg = path.join(WEB_DIR, '..', 'node_modules', 'esbuild', 'package.json');
    return (JSON.parse(fs.readFileSync(pkg, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** Hash of everything the build reads. */
export function inputHash(): string {
  const h = crypto.createHash('sha256');
  const files = [...listSources(SRC_DIR), ...STATIC_FILES.map((f) => path.join(WEB_DIR, f)), fileURLToPath(import.meta.url)].sort();
  for (const f of files) h.update(path.relative(WEB_DIR, f)).update('\0').update(fs.readFileSync(f)).update('\0');
  return h.update(esbuildVersion()).digest('hex').slice(0, 16);
}

function asset(name: string, body: Buffer): DashboardAsset {
  return {
    body,
    contentType: CONTENT_TYPES[path.extname(name)] ?? 'application/octet-stream',
    etag: `"${crypto.createHash('sha256').update(body).digest('hex').slice(0, 20)}"`,
  };
}

/** Bundles the sources into memory (no file is written). */
export async function bundleDashboard(hash = inputHash()): Promise<Map<string, Buffer>> {
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: [path.join(SRC_DIR, 'main.ts')],
    bundle: true,
    format: 'esm',
    target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
    platform: 'browser',
    minify: true,
    sourcemap: 'linked',
    outfile: path.join(DIST_DIR, 'main.js'),
    write: false,
    logLevel: 'silent',
    legalComments: 'none',
  });
  const out = new Map<string, Buffer>();
  for (const f of result.outputFiles) out.set(path.basename(f.path), Buffer.from(f.contents));
  for (const name of STATIC_FILES) {
    let body = await fsp.readFile(path.join(WEB_DIR, name));
    // Cache busting: the page names the build it belongs to.
    if (name === 'index.html') body = Buffer.from(body.toString('utf8').replaceAll('__BUILD__', hash));
    out.set(name, body);
  }
  return out;
}

async function writeAtomically(file: string, body: Buffer): Promise<void> {
  const tmp = `${file}.${process.pid}-${crypto.randomBytes(4).toString('hex')}.tmp`;
  await fsp.writeFile(tmp, body);
  await fsp.rename(tmp, file);
}

/** Bundles and writes web/dist (the manifest last, so a reader sees old or new, whole). */
export async function buildDashboard(): Promise<Map<string, Buffer>> {
  const hash = inputHash();
  const files = await bundleDashboard(hash);
  await fsp.mkdir(DIST_DIR, { recursive: true });
  for (const [name, body] of files) await writeAtomically(path.join(DIST_DIR, name), body);
  await writeAtomically(path.join(DIST_DIR, MANIFEST), Buffer.from(JSON.stringify({ hash, files: [...files.keys()] }, null, 2) + '\n'));
  return files;
}

function readDist(hash: string): Map<string, Buffer> | null {
  try {
    const manifest = JSON.parse(fs.readFileSync(path.join(DIST_DIR, MANIFEST), 'utf8')) as { hash?: string; files?: string[] };
    if (manifest.hash !== hash || !Array.isArray(manifest.files)) return null;
    return new Map(manifest.files.map((name) => [name, fs.readFileSync(path.join(DIST_DIR, path.basename(name)))]));
  } catch {
    return null;
  }
}

let loading: Promise<DashboardAssets> | null = null;

/**
 * The dashboard's files, building web/dist first when it is missing or stale. One build
 * per process; `warn` hears when web/dist could not be written.
 */
export function ensureDashboardAssets(warn: (msg: string) => void = () => {}): Promise<DashboardAssets> {
  loading ??= (async (): Promise<DashboardAssets> => {
    const hash = inputHash();
    let origin: DashboardAssets['origin'] = 'dist';
    let files = readDist(hash);
    if (files === null) {
      try {
        files = await buildDashboard();
        origin = 'built';
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'EACCES' && code !== 'EROFS' && code !== 'EPERM') throw err;
        warn(`dashboard: cannot write ${DIST_DIR} (${code}); serving the build from memory`);
        files = await bundleDashboard(hash);
        origin = 'built-in-memory';
      }
    }
    return { hash, origin, files: new Map([...files].map(([name, body]) => [name, asset(name, body)])) };
  })();
  loading.catch(() => (loading = null));
  return loading;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const files = await buildDashboard();
  for (const [name, body] of files) process.stdout.write(`web/dist/${name}  ${body.length} bytes\n`);
}
