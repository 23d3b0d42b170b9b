/**
 * Loader sources: the HTTP form of MLTK's "python module with load_data()" and
 * "function returning a path". A loader is a module in LOADERS_DIR named `<name>.ts`,
 * `<name>.js` or `<name>.mjs` that exports `load(options, ctx)` (or `loadData`, or a
 * default function) returning the dataset directory, and optionally the listing
 * strategy it implies (MLTK's `list_valid_filenames_in_directory` attribute) and an
 * `unload(options, ctx)` hook (MLTK's `unload_dataset`).
 */
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { DatasetError, NotFoundError } from '../../../core/errors.ts';
import type { RegistrationListing } from '../schemas.ts';
import type { UploadLimits } from './upload.ts';

export interface LoaderContext {
  /** Scratch space owned by this loader: DATA_DIR/loaders/<name>. */
  workDir: string;
  /** Allow-listed roots: inputs a loader reads must lie inside one. */
  dataRoots: string[];
  limits: UploadLimits;
  log: (msg: string) => void;
}

export interface LoaderResult {
  directory: string;
  listing?: RegistrationListing;
}

type LoaderFn = (options: Record<string, unknown>, ctx: LoaderContext) => Promise<LoaderResult | string> | LoaderResult | string;

export interface LoaderModule {
  default?: LoaderFn;
  load?: LoaderFn;
  loadData?: LoaderFn;
  listing?: RegistrationListing;
  /** The listing these options give, when it depends on them (checked before the loader runs). */
  listingFor?: (options: Record<string, unknown>) => RegistrationListing | undefined;
  unload?: (options: Record<string, unknown>, ctx: LoaderContext) => Promise<void> | void;
}

const NAME = /^[A-Za-z0-9_-]{1,64}$/;

export function loaderFile(loadersDir: string, name: string): string | null {
  if (!NAME.test(name)) return null;
  for (const ext of ['.ts', '.mjs', '.js']) {
    const file = path.join(loadersDir, name + ext);
    if (fs.existsSync(file)) return file;
  }
  return null;
}

export function listLoaders(loadersDir: string): string[] {
  if (!fs.existsSync(loadersDir)) return [];
  return fs
    .readdirSync(loadersDir)
    .map((f) => /^([A-Za-z0-9_-]{1,64})\.(ts|mjs|js)$/.exec(f)?.[1])
    .filter((n): n is string => n !== undefined)
    .sort();
}

export async function importLoader(loadersDir: string, name: string): Promise<LoaderModule> {
  const file = loaderFile(loadersDir, name);
  if (!file) {
    throw new NotFoundError('loader', `no loader named ${JSON.stringify(name)}; available: ${listLoaders(loadersDir).join(', ') || 'none'}`);
  }
  return (await import(pathToFileURL(file).href)) as LoaderModule;
}

/** Runs a loader and normalises what it returns (MLTK: "Dataset must be a path to a directory"). */
export async function runLoader(
  loadersDir: string,
  name: string,
  options: Record<string, unknown>,
  ctx: LoaderContext,
): Promise<{ directory: string; listing: RegistrationListing | undefined }> {
  const mod = await importLoader(loadersDir, name);
  const fn = mod.load ?? mod.loadData ?? mod.default;
  if (typeof fn !== 'function') {
    throw new DatasetError('loader-invalid', `loader ${name} exports no load(), loadData() or default function`);
  }
  let result: LoaderResult | string;
  try {
    fs.mkdirSync(ctx.workDir, { recursive: true });
    result = await fn(options, ctx);
  } catch (err) {
    if (err instanceof DatasetError || (err as { status?: number }).status) throw err;
    throw new DatasetError('loader-failed', `loader ${name} failed: ${(err as Error).message}`);
  }
  const directory = typeof result === 'string' ? result : result?.directory;
  if (typeof directory !== 'string' || directory === '') {
    throw new DatasetError('loader-invalid', `loader ${name} must return a path to a directory`);
  }
  const listing = (typeof result === 'object' ? result.listing : undefined) ?? mod.listing;
  return { directory, listing };
}
