/**
 * `audiofeed` command line (bin/audiofeed.js runs this through tsx). Computes the
 * features of one clip with the same pipeline as POST /v1/features, locally: no Redis,
 * no running service. Exit codes: 0 ok, 1 the input or settings were rejected, 2 usage.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  computeClipFeatures,
  encodeClipFeatures,
  parseClipFeatureSettings,
  type ClipFeatureFormat,
  type ClipFeatureSettingsT,
  type ClipFeatures,
} from '../src/services/features/clip-features.ts';
import { MAX_WAV_FILE_BYTES } from '../src/core/audio/load.ts';
import { AudiofeedError, WavDecodeError } from '../src/core/errors.ts';
import { FEATURE_DTYPES } from '../src/core/schemas.ts';
import { selectFrontendBackend, type FrontendBackend, type FrontendBackendPreference } from '../src/core/frontend/backend.ts';
import { DEFAULT_FRONTEND_SETTINGS, FRONTEND_SETTING_NAMES, type FrontendSettings } from '../src/core/frontend/settings.ts';
import { InputError, InterruptedError, UsageError, type CliIo } from './errors.ts';
import { RejectedError, UnavailableError } from './http.ts';
import { DATASETS_HELP, FEATURIZE_HELP, JOBS_HELP, datasetsCommand, featurizeCommand, jobsCommand, type Env } from './remote.ts';
import { PULL_HELP, pullCommand } from './pull.ts';

const FORMATS: readonly ClipFeatureFormat[] = ['npy', 'json', 'png'];
const BACKENDS: readonly FrontendBackendPreference[] = ['auto', 'native', 'typescript'];

export const HELP = `Usage: audiofeed <command> [options]

Commands:
  features <clip.wav>   Spectrogram (or prepared audio) of one WAV clip, computed
                        locally exactly as the service and MLTK compute it.
  datasets <command>    On a running service: register, list, show, summary, weights,
                        load, unload, delete.
  featurize <ID>        On a running service: featurize a subset, with a progress bar.
  jobs                  On a running service: list featurization jobs (filter by
                        dataset and state), or cancel one.
  pull <ID>             On a running service: stream epochs into files, with a progress
                        bar; verified, and resumable with --resume.
  help                  Show this help.

  audiofeed <command> --help shows a command's options.

The remote commands (datasets, featurize, jobs, pull) take, before or after the command:
  --url <url>           The service (default $AUDIOFEED_URL, else http://127.0.0.1:8080).
  --token <token>       Bearer token (default $AUDIOFEED_TOKEN).

audiofeed features <clip.wav> [options]
  --settings <file>     JSON settings: either MLTK frontend settings
                        ({"sample_rate_hz": 16000, ...}) or the POST /v1/features
                        settings object ({"frontend_settings": {...}, "dtype": ...}).
  --set <name=value>    One frontend setting by its MLTK name (repeatable; applied
                        after --settings), e.g. --set filterbank_n_channels=40.
  --dtype <dtype>       uint16 | int8 | float32 (default float32).
  --raw                 Feed the decoded samples to the frontend unchanged (no
                        resample, trim, pad or crop): the clip must have exactly
                        sample_length samples at sample_rate_hz (device parity).
  --trim-threshold-db <n>  Silence trimming top_db, 0 = off (default 20).
  --no-frontend         Output the prepared float32 audio instead of a spectrogram.
  --format <format>     npy | json | png (default: from the --out extension, else npy).
  --out <file>          Write the result there ('-' = stdout). Without --out, print
                        the shape and min/max/mean only.
  --backend <backend>   auto | native | typescript (default auto: the native addon
                        when it is built, else TypeScript; both are bit-exact).
  -h, --help            Show this help.

Examples:
  audiofeed features clip.wav --dtype int8 --out x.npy
  audiofeed features clip.wav --set window_step_ms=20 --set filterbank_n_channels=40
  audiofeed features clip.wav --format png --out x.png
  audiofeed features device_clip.wav --raw --dtype uint16 --out x.npy

Exit status: 0 success, 1 the clip or settings were rejected (remote commands: the
service rejected the request with HTTP 4xx, or the job failed or was cancelled),
2 usage error, 3 the service could not be reached, failed (HTTP 5xx) or cut a
response short (remote commands).
`;

export { UsageError, InputError, type CliIo };

function parseSetting(assignment: string): [keyof FrontendSettings, number | boolean] {
  const eq = assignment.indexOf('=');
  if (eq <= 0) throw new UsageError(`--set expects name=value, got ${JSON.stringify(assignment)}`);
  const name = assignment.slice(0, eq).trim();
  const text = assignment.slice(eq + 1).trim();
  if (!(FRONTEND_SETTING_NAMES as readonly string[]).includes(name)) {
    throw new UsageError(`--set ${name}: not a frontend setting (MLTK names such as sample_rate_hz, window_step_ms)`);
  }
  const key = name as keyof FrontendSettings;
  if (typeof DEFAULT_FRONTEND_SETTINGS[key] === 'boolean') {
    if (/^(true|1|yes|on)$/i.test(text)) return [key, true];
    if (/^(false|0|no|off)$/i.test(text)) return [key, false];
    throw new UsageError(`--set ${name}: expected true or false, got ${JSON.stringify(text)}`);
  }
  const value = Number(text);
  if (text === '' || !Number.isFinite(value)) {
    throw new UsageError(`--set ${name}: expected a number, got ${JSON.stringify(text)}`);
  }
  return [key, value];
}

async function readSettingsFile(file: string): Promise<ClipFeatureSettingsT> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (err) {
    throw new InputError(`cannot read settings file ${file}: ${describeFsError(err)}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new InputError(`${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new InputError(`${file} must hold a JSON object`);
  }
  const keys = Object.keys(parsed);
  // A plain MLTK settings dump is accepted as is: every key a frontend setting name.
  const frontendOnly = keys.length > 0 && keys.every((k) => (FRONTEND_SETTING_NAMES as readonly string[]).includes(k));
  return parseClipFeatureSettings(frontendOnly ? { frontend_settings: parsed } : parsed, file);
}

function describeFsError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  switch (e.code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
    default:
      return e.code ?? e.message;
  }
}

async function readClip(file: string): Promise<Buffer> {
  let size: number;
  try {
    const st = await fsp.stat(file);
    if (!st.isFile()) throw new InputError(`cannot read ${file}: not a regular file`);
    size = st.size;
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(`cannot read ${file}: ${describeFsError(err)}`);
  }
  if (size > MAX_WAV_FILE_BYTES) {
    throw new WavDecodeError('file-too-large', `file is ${size} bytes; the limit is ${MAX_WAV_FILE_BYTES} bytes`, file);
  }
  try {
    return await fsp.readFile(file);
  } catch (err) {
    throw new InputError(`cannot read ${file}: ${describeFsError(err)}`);
  }
}

function pyShape(shape: readonly number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
}

function summary(f: ClipFeatures): string {
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (let i = 0; i < f.data.length; i++) {
    const v = f.data[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
  }
  const mean = f.data.length > 0 ? sum / f.data.length : NaN;
  const fmt = (v: number) => (Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6))));
  return `min ${fmt(min)} max ${fmt(max)} mean ${fmt(mean)}`;
}

function formatOf(out: string | undefined, given: string | undefined): ClipFeatureFormat {
  if (given !== undefined) {
    if (!(FORMATS as readonly string[]).includes(given)) {
      throw new UsageError(`--format must be one of ${FORMATS.join(', ')}, got ${JSON.stringify(given)}`);
    }
    return given as ClipFeatureFormat;
  }
  const ext = out === undefined || out === '-' ? '' : path.extname(out).toLowerCase().slice(1);
  return (FORMATS as readonly string[]).includes(ext) ? (ext as ClipFeatureFormat) : 'npy';
}

function parseFeatureArgs(args: string[]) {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        settings: { type: 'string' },
        set: { type: 'string', multiple: true },
        dtype: { type: 'string' },
        raw: { type: 'boolean' },
        'trim-threshold-db': { type: 'string' },
        'no-frontend': { type: 'boolean' },
        format: { type: 'string' },
        out: { type: 'string', short: 'o' },
        backend: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    // Node's messages append advice about '--' that does not apply here: keep the first sentence.
    throw new UsageError((err as Error).message.split('. ')[0]!.replace(/\.$/, ''));
  }
  return parsed;
}

async function featuresCommand(args: string[], io: CliIo): Promise<number> {
  const { values: v, positionals } = parseFeatureArgs(args);
  if (v.help) {
    io.stdout.write(HELP);
    return 0;
  }
  if (positionals.length !== 1) {
    throw new UsageError(positionals.length === 0 ? 'features needs a WAV file' : `features takes one WAV file, got ${positionals.length}`);
  }
  const clip = positionals[0]!;
  if (v.dtype !== undefined && !(FEATURE_DTYPES as readonly string[]).includes(v.dtype)) {
    throw new UsageError(`--dtype must be one of ${FEATURE_DTYPES.join(', ')}, got ${JSON.stringify(v.dtype)}`);
  }
  const backendPref = (v.backend ?? 'auto') as FrontendBackendPreference;
  if (!BACKENDS.includes(backendPref)) {
    throw new UsageError(`--backend must be one of ${BACKENDS.join(', ')}, got ${JSON.stringify(v.backend)}`);
  }
  let trim: number | undefined;
  if (v['trim-threshold-db'] !== undefined) {
    trim = Number(v['trim-threshold-db']);
    if (v['trim-threshold-db'].trim() === '' || !Number.isFinite(trim)) {
      throw new UsageError(`--trim-threshold-db expects a number, got ${JSON.stringify(v['trim-threshold-db'])}`);
    }
  }
  const format = formatOf(v.out, v.format);
  if (v.out === undefined && v.format !== undefined) {
    throw new UsageError('--format needs --out <file> (or --out - for stdout)');
  }
  const sets = (v.set ?? []).map(parseSetting);

  const base = v.settings === undefined ? {} : await readSettingsFile(v.settings);
  const request: Record<string, unknown> = { ...base };
  if (sets.length > 0) request.frontend_settings = { ...base.frontend_settings, ...Object.fromEntries(sets) };
  if (v.dtype !== undefined) request.dtype = v.dtype;
  if (v.raw) request.raw = true;
  if (trim !== undefined) request.trim_threshold_db = trim;
  if (v['no-frontend']) request.frontend_enabled = false;
  const settings = parseClipFeatureSettings(request, 'settings');

  let backend: FrontendBackend;
  try {
    backend = selectFrontendBackend(backendPref, () => {});
  } catch (err) {
    throw new InputError((err as Error).message);
  }
  const wav = await readClip(clip);
  const f = await computeClipFeatures(wav, settings, backend, clip);
  const head = `shape ${pyShape(f.shape)} dtype ${f.dtype}`;
  const activity = f.activityDetected === undefined ? '' : ` activity_detected ${f.activityDetected}`;
  if (v.out === undefined) {
    io.stdout.write(`${head} ${summary(f)}${activity}\n`);
    return 0;
  }
  const body = encodeClipFeatures(f, format);
  if (v.out === '-') {
    await new Promise<void>((resolve, reject) => io.stdout.write(body, (err) => (err ? reject(err) : resolve())));
    io.stderr.write(`${head}${activity} -> stdout (${format})\n`);
    return 0;
  }
  try {
    await fsp.writeFile(v.out, body);
  } catch (err) {
    throw new InputError(`cannot write ${v.out}: ${describeFsError(err)}`);
  }
  io.stdout.write(`${head}${activity} -> ${v.out}\n`);
  return 0;
}

const REMOTE_HELP: Record<string, string> = { datasets: DATASETS_HELP, featurize: FEATURIZE_HELP, jobs: JOBS_HELP, pull: PULL_HELP };

/** `--url X`, `--token=Y` before the command: moved after it, where each command reads them. */
function splitGlobalOptions(argv: string[]): { command: string | undefined; rest: string[] } {
  const global: string[] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (/^--(url|token)=/.test(a)) global.push(a);
    else if (a === '--url' || a === '--token') {
      if (i + 1 >= argv.length) throw new UsageError(`Option '${a} <value>' argument missing`);
      global.push(a, argv[++i]!);
    } else break;
  }
  const command = argv[i];
  if (global.length > 0 && command !== undefined && !Object.hasOwn(REMOTE_HELP, command)) {
    throw new UsageError(`--url and --token belong to the remote commands (datasets, featurize, jobs, pull), not ${JSON.stringify(command)}`);
  }
  // Options after the command come last, so they win over the ones before it.
  return { command, rest: [...global, ...argv.slice(i + 1)] };
}

/** Runs one command line; returns the exit status. Never throws for user errors. */
export async function main(
  argv: string[],
  io: CliIo = { stdout: process.stdout, stderr: process.stderr },
  env: Env = process.env,
): Promise<number> {
  const fail = (msg: string, code: number): number => {
    io.stderr.write(`audiofeed: ${msg}\n`);
    return code;
  };
  let help = 'audiofeed --help';
  try {
    const { command, rest } = splitGlobalOptions(argv);
    if (command !== undefined && Object.hasOwn(REMOTE_HELP, command)) help = `audiofeed ${command} --help`;
    if (command === undefined) {
      io.stderr.write(HELP);
      return 2;
    }
    if (command === 'help' || command === '--help' || command === '-h') {
      io.stdout.write((command === 'help' && rest[0] !== undefined && Object.hasOwn(REMOTE_HELP, rest[0]) ? REMOTE_HELP[rest[0]] : HELP));
      return 0;
    }
    if (command === 'features') return await featuresCommand(rest, io);
    if (command === 'datasets') return await datasetsCommand(rest, io, env);
    if (command === 'featurize') return await featurizeCommand(rest, io, env);
    if (command === 'jobs') return await jobsCommand(rest, io, env);
    if (command === 'pull') return await pullCommand(rest, io, env);
    throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  } catch (err) {
    if (err instanceof UsageError) return fail(`${err.message} (see ${help})`, 2);
    if (err instanceof RejectedError) return fail(`${err.status} ${err.message}`, 1);
    if (err instanceof UnavailableError) return fail(err.message, 3);
    if (err instanceof InterruptedError) return fail(err.message, 130);
    if (err instanceof WavDecodeError) return fail(`${err.message} [${err.reason}]`, 1);
    if (err instanceof AudiofeedError || err instanceof InputError) return fail(err.message, 1);
    // Anything else is a bug: keep the stack for the report.
    return fail(`internal error: ${(err as Error).stack ?? String(err)}`, 1);
  }
}

/** Run directly (`tsx cli/main.ts ...`) rather than imported by bin/audiofeed.js or a test. */
function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return fs.realpathSync(entry) === fs.realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  process.exitCode = await main(process.argv.slice(2));
}
