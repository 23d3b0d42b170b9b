/**
 * Registration benchmark: a Speech-Commands-v2-sized tree (~105,000 tiny WAV files in
 * 35 class directories) is generated in os.tmpdir(), then `loadDataset(…, 'training')`
 * is timed for a first registration (walk + index generation) and a second one (index
 * reuse: every entry's existence is checked). Each phase runs in its own child process
 * so that wall time and peak RSS belong to that phase alone. Also compares the two
 * existence-check strategies. Then the same through the service's registration path
 * (RegistryService: path containment and symlink checks, the load, the Redis record with
 * its subset lists) on a fresh index and on a reused one. Targets: < 3 s and < 300 MB.
 * No asserts.
 *
 * Run: npx tsx bench/registry.ts
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadDataset, type DatasetDirs, type DatasetOptions } from '../src/core/datasets/index.ts';
import { findFirstMissing, type ExistenceStrategy } from '../src/core/datasets/index-files.ts';
import { loadConfig } from '../src/services/config.ts';
import { RegistryService } from '../src/services/registry/service.ts';
import { RegistryStore } from '../store/registry-store.ts';
import { createRedis } from '../store/redis.ts';
import { datasetOptions } from '../test/helpers/datasets.ts';

const CLASSES = 35;
const FILES_PER_CLASS = 3000;
const TARGET_MS = 3000;
const TARGET_MB = 300;
const KEYWORDS = ['yes', 'no', 'up', 'down', 'left', 'right', 'on', 'off', 'stop', 'go'];

function classNames(): string[] {
  const extra = Array.from({ length: CLASSES - KEYWORDS.length }, (_, i) => `word${String(i).padStart(2, '0')}`);
  return [...KEYWORDS, ...extra];
}

/** 44-byte PCM header + 8 samples. */
function tinyWav(): Buffer {
  const frames = 8;
  const buf = Buffer.alloc(44 + frames * 2);
  buf.write('RIFF', 0, 'ascii');
  buf.writeUInt32LE(36 + frames * 2, 4);
  buf.write('WAVEfmt ', 8, 'ascii');
  buf.writeUInt32LE(16, 16);
  buf.writeUInt16LE(1, 20);
  buf.writeUInt16LE(1, 22);
  buf.writeUInt32LE(16000, 24);
  buf.writeUInt32LE(32000, 28);
  buf.writeUInt16LE(2, 32);
  buf.writeUInt16LE(16, 34);
  buf.write('data', 36, 'ascii');
  buf.writeUInt32LE(frames * 2, 40);
  for (let i = 0; i < frames; i++) buf.writeInt16LE(i * 100, 44 + i * 2);
  return buf;
}

async function generate(datasetDir: string): Promise<number> {
  const wav = tinyWav();
  let count = 0;
  for (const cls of classNames()) {
    const dir = path.join(datasetDir, cls);
    await fs.mkdir(dir, { recursive: true });
    const names = Array.from({ length: FILES_PER_CLASS }, (_, i) => {
      const speaker = (i * 2654435761) % 0xffffffff;
      return `${speaker.toString(16).padStart(8, '0')}_nohash_${i % 5}.wav`;
    });
    for (let i = 0; i < names.length; i += 256) {
      await Promise.all(names.slice(i, i + 256).map((n) => fs.writeFile(path.join(dir, n), wav)));
    }
    count += names.length;
  }
  await fs.mkdir(path.join(datasetDir, '_background_noise_'), { recursive: true });
  await fs.writeFile(path.join(datasetDir, '_background_noise_', 'white_noise.wav'), wav);
  return count;
}

function options(): DatasetOptions {
  return datasetOptions({ classes: [...KEYWORDS, '_unknown_', '_silence_'], validationSplit: 0.1 });
}

interface PhaseResult {
  phase: string;
  ms: number;
  maxRssMb: number;
  detail: string;
}

async function child(phase: string, root: string): Promise<void> {
  const dirs: DatasetDirs = {
    datasetDir: path.join(root, 'data'),
    fallbackIndexDir: path.join(root, 'fallback'),
    shuffleIndexDir: path.join(root, 'log', 'dataset'),
  };
  if (phase === 'service-fresh') await fs.rm(path.join(dirs.datasetDir, '.index'), { recursive: true, force: true });
  const t0 = performance.now();
  let detail: string;
  if (phase.startsWith('service')) {
    detail = await registerThroughService(root, phase);
  } else if (phase === 'first' || phase === 'second') {
    const r = await loadDataset(dirs, options(), 'training');
    detail = `training ${r.training!.entries.length} + validation ${r.validation!.entries.length} samples, ${r.indexFiles.length} index files, ${r.warnings.length} warnings`;
  } else {
    const strategy = phase.slice('exists-'.length) as ExistenceStrategy;
    const entries: string[] = [];
    for (const cls of classNames()) {
      const text = await fs.readFile(path.join(dirs.datasetDir, '.index', `${cls}.txt`), 'utf8');
      for (const line of text.split('\n')) if (line) entries.push(line);
    }
    const missing = await findFirstMissing(dirs.datasetDir, entries, strategy);
    detail = `${entries.length} entries checked, first missing: ${missing ?? 'none'}`;
  }
  const result: PhaseResult = {
    phase,
    ms: performance.now() - t0,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
    detail,
  };
  process.stdout.write(JSON.stringify(result) + '\n');
}

/** The whole registration as the API does it, against Redis with a private key prefix. */
async function registerThroughService(root: string, phase: string): Promise<string> {
  const prefix = `afbench-registry-${process.pid}`;
  const config = loadConfig({ DATA_ROOTS: root, DATA_DIR: path.join(root, 'service-data'), KEY_PREFIX: prefix });
  const redis = createRedis(config.redisUrl);
  try {
    const service = new RegistryService(config, new RegistryStore(redis, prefix), { info() {}, warn() {} });
    const rec = await service.registerDirectory({
      name: phase,
      source: { type: 'directory', path: 'data' },
      classes: options().classes,
      validation_split: 0.1,
    });
    const counts = rec.class_counts;
    const n = (c?: Record<string, number>) => Object.values(c ?? {}).reduce((a, b) => a + b, 0);
    return `registered ${rec.id}: training ${n(counts.training)} + validation ${n(counts.validation)} samples, index ${rec.index.location}`;
  } finally {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  }
}

function runChild(phase: string, root: string): PhaseResult {
  const self = fileURLToPath(import.meta.url);
  const out = spawnSync(process.execPath, [...process.execArgv, self, '--phase', phase, root], { encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`phase ${phase} failed: ${out.stderr}`);
  const line = out.stdout.trim().split('\n').pop()!;
  return JSON.parse(line) as PhaseResult;
}

async function main(): Promise<void> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'audiofeed-bench-registry-'));
  try {
    const g0 = performance.now();
    const files = await generate(path.join(root, 'data'));
    console.log(`generated ${files} files in ${CLASSES} class dirs in ${((performance.now() - g0) / 1000).toFixed(1)} s (${root})`);
    const results = [
      runChild('first', root),
      runChild('second', root),
      runChild('exists-listing', root),
      runChild('exists-stat', root),
      runChild('service-fresh', root),
      runChild('service-reuse', root),
    ];
    console.log('');
    console.log('phase            wall ms   peak RSS MB   target');
    for (const r of results) {
      const isLoad = !r.phase.startsWith('exists');
      const verdict = isLoad
        ? `${r.ms < TARGET_MS ? 'ok' : 'SLOW'} (< ${TARGET_MS} ms), ${r.maxRssMb < TARGET_MB ? 'ok' : 'BIG'} (< ${TARGET_MB} MB)`
        : 'comparison';
      console.log(`${r.phase.padEnd(15)} ${r.ms.toFixed(0).padStart(8)}   ${r.maxRssMb.toFixed(0).padStart(11)}   ${verdict}`);
      console.log(`                 ${r.detail}`);
    }
  } finally {
    await fs.rm(root, { recursive: true, force: true });
  }
}

const phaseArg = process.argv.indexOf('--phase');
if (phaseArg >= 0) await child(process.argv[phaseArg + 1]!, process.argv[phaseArg + 2]!);
else await main();
