import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Project root (the directory holding package.json). */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Shared, read-only test data: `../shared/testdata` relative to the project root. */
export const TESTDATA = path.resolve(PROJECT_ROOT, '..', 'shared', 'testdata');
export const testdata = (...parts: string[]): string => path.join(TESTDATA, ...parts);
