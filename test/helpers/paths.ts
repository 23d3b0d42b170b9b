import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Project root (the directory holding package.json). */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Shared, read-only test data: `../shared/testdata` relative to the project root. */
export const TESTDATA = path.resolve(PROJECT_ROOT, '..', 'shared', 'testdata');
export const testdata = (...parts: string[]): string => path.join(TESTDATA, ...parts);

/**
 * Copies a shared corpus to a scratch directory, without any `.index/`, and makes the copy
 * writable (shared/ is read-only, and a read-only dataset directory gets its index elsewhere).
 */
export function copyCorpus(src: string, dest: string): void {
  fs.cpSync(src, dest, { recursive: true, filter: (s) => path.basename(s) !== '.index' });
  const walk = (p: string): void => {
    const st = fs.statSync(p);
    fs.chmodSync(p, st.mode | 0o200);
    if (st.isDirectory()) for (const n of fs.readdirSync(p)) walk(path.join(p, n));
  };
  walk(dest);
}

/**
 * Adds `copies` copies of every WAV in each class dir of `dir`, named `d1<name>` … `d<copies><name>`
 * (other speaker ids, the same content): enough clips for several shards from a small corpus.
 */
export function duplicateClips(dir: string, classes: readonly string[], copies: number): void {
  for (const cls of classes) {
    for (const f of fs.readdirSync(path.join(dir, cls))) {
      if (!f.endsWith('.wav')) continue;
      for (let d = 1; d <= copies; d++) fs.copyFileSync(path.join(dir, cls, f), path.join(dir, cls, `d${d}${f}`));
    }
  }
}
