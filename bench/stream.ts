/**
 * Batch streaming throughput of a cached epoch versus a plain file over loopback HTTP.
 * Generates a seeded dataset (temp dir, private KEY_PREFIX and DATA_DIR, all removed
 * afterwards), starts the API (`routes/server.ts`, no in-process workers) on a loopback port,
 * registers the dataset (validation_split 0), featurizes it with two worker processes
 * (then stops them), and measures GET /v1/datasets/{id}/batches?format=npy|arrow
 * (batch_size 32, float32) read by a plain http.get consumer that discards the bytes,
 * against a minimal node:http server (bench/helpers/file-server.ts, its own process like
 * the API) streaming files of exactly the same sizes with fs.createReadStream. One
 * measurement is EPOCHS consecutive requests (epochs 0, 1, …: a different shuffle each,
 * the same bytes count); sources alternate within each run; best and median of RUNS.
 * Also reports the API process's RSS before and at its peak during the streams
 * (VmHWM, reset before the streams, and 10 ms sampling). Target: API ≥ 0.8 × file. No asserts.
 *
 *   npx tsx bench/stream.ts [--clips N] [--epochs E] [--runs R] [--cpu-prof DIR]
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  BenchSession,
  best,
  cpuSeconds,
  drain,
  featurize,
  generateDataset,
  intArg,
  machineBusySeconds,
  median,
  registerDataset,
  resetPeakRss,
  rssMb,
  stringArg,
} from './helpers/harness.ts';

const CLIPS = intArg('--clips', 2000);
const EPOCHS = intArg('--epochs', 16);
const RUNS = intArg('--runs', 3);
const CPU_PROF = process.argv.includes('--cpu-prof') ? path.resolve(stringArg('--cpu-prof', 'cpu-prof')) : null;
const TARGET = 0.8;
const FORMATS = ['npy', 'arrow'] as const;
type Format = (typeof FORMATS)[number];

interface Measurement {
  run: number;
  source: string;
  format: Format;
  api: boolean;
  bytes: number;
  seconds: number;
  mbps: number;
  serverCores: number;
  otherCores: number;
}

function writeRandomFile(file: string, size: number): void {
  const fd = fs.openSync(file, 'w');
  try {
    const chunk = Buffer.alloc(1 << 20);
    for (let left = size; left > 0; left -= chunk.length) {
      crypto.randomFillSync(chunk);
      fs.writeSync(fd, chunk, 0, Math.min(left, chunk.length));
    }
  } finally {
    fs.closeSync(fd);
  }
}

async function main(): Promise<void> {
  const session = await BenchSession.open('stream');
  try {
    const nodeArgs = CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', CPU_PROF] : [];
    const g0 = performance.now();
    await generateDataset(path.join(session.root, 'clips'), CLIPS);
    const genSeconds = (performance.now() - g0) / 1000;
    const { url, proc: api } = await session.startApi({}, nodeArgs);
    const reg = await registerDataset(url, 'bench', 'clips');
    if (reg.training !== CLIPS) throw new Error(`training subset has ${reg.training} clips, expected ${CLIPS}`);
    const workers = await session.startWorkers(2, { WORKER_CONCURRENCY: '1', FRONTEND_BACKEND: 'auto' });
    const fz = await featurize(url, 'bench');
    await Promise.all(workers.procs.map((p) => p.stop()));
    if (fz.failures !== 0) throw new Error(`${fz.failures} clips failed to featurize`);

    const fileDir = path.join(session.base, 'files');
    fs.mkdirSync(fileDir);
    const fileServer = session.spawn('file server', 'bench/helpers/file-server.ts', { ...process.env, FILE_DIR: fileDir });
    const fileUrl = (await fileServer.waitFor(/listening at (http:\/\/127\.0\.0\.1:\d+)/, 30_000))[1]!;

    const batchesUrl = (format: Format, epoch: number) =>
      `${url}/v1/datasets/bench/batches?format=${format}&batch_size=32&dtype=float32&epoch=${epoch}`;

    // Warm-up (and the byte counts the files must match): one epoch of each format.
    const size = {} as Record<Format, number>;
    let batches = '';
    for (const format of FORMATS) {
      const r = await drain(batchesUrl(format, 0));
      if (r.status !== 200) throw new Error(`GET batches ${format}: HTTP ${r.status}`);
      size[format] = r.bytes;
      batches = `${r.headers['x-audiofeed-batches']} batches, x ${r.headers['x-audiofeed-x-shape']} ${r.headers['x-audiofeed-dtype']}, columns ${r.headers['x-audiofeed-columns']}`;
      writeRandomFile(path.join(fileDir, `${format}.bin`), r.bytes);
      const f = await drain(`${fileUrl}/${format}.bin`);
      if (f.bytes !== r.bytes) throw new Error(`file server sent ${f.bytes} bytes, expected ${r.bytes}`);
    }

    console.log(
      `stream benchmark: ${CLIPS} generated one-second clips (${genSeconds.toFixed(1)} s to generate), featurized by 2 worker ` +
        `processes in ${fz.seconds.toFixed(2)} s (${fz.shards} shards), then cached`,
    );
    console.log(
      `node ${process.version}, ${os.availableParallelism()} cores, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}; ` +
        `epoch: batch_size 32, ${batches}; npy epoch ${(size.npy / 1e6).toFixed(2)} MB, arrow epoch ${(size.arrow / 1e6).toFixed(2)} MB`,
    );
    console.log(
      `one measurement = ${EPOCHS} consecutive GETs (epochs 0..${EPOCHS - 1}) read by http.get, bytes discarded; ` +
        `baseline = a file of the same size per GET, fs.createReadStream in a node:http server; MB = 10^6 bytes`,
    );

    const rssBefore = rssMb(api.pid);
    const hwmReset = resetPeakRss(api.pid);
    let sampledPeak = rssBefore.rss;
    const sampler = setInterval(() => {
      const r = rssMb(api.pid).rss;
      if (r > sampledPeak) sampledPeak = r;
    }, 10);

    const results: Measurement[] = [];
    const measure = async (run: number, format: Format, onApi: boolean): Promise<Measurement> => {
      const pid = onApi ? api.pid : fileServer.pid;
      const cpu0 = cpuSeconds(pid);
      const busy0 = machineBusySeconds();
      const self0 = process.cpuUsage();
      const t0 = performance.now();
      let bytes = 0;
      for (let e = 0; e < EPOCHS; e++) {
        const r = await drain(onApi ? batchesUrl(format, e) : `${fileUrl}/${format}.bin`);
        if (r.status !== 200 || r.bytes !== size[format]) {
          throw new Error(`${onApi ? 'API' : 'file'} ${format} epoch ${e}: HTTP ${r.status}, ${r.bytes} bytes (expected ${size[format]})`);
        }
        bytes += r.bytes;
      }
      const seconds = (performance.now() - t0) / 1000;
      const server = cpuSeconds(pid) - cpu0;
      const self = process.cpuUsage(self0);
      const others = machineBusySeconds() - busy0 - server - (self.user + self.system) / 1e6;
      return {
        run,
        source: onApi ? `API ${format}` : `file, ${format} size`,
        format,
        api: onApi,
        bytes,
        seconds,
        mbps: bytes / 1e6 / seconds,
        serverCores: server / seconds,
        otherCores: Math.max(0, others) / seconds,
      };
    };

    console.log('');
    console.log('run  source                MB        s      MB/s   server cores   others');
    try {
      for (let run = 1; run <= RUNS; run++) {
        for (const format of FORMATS) {
          for (const onApi of [true, false]) {
            const m = await measure(run, format, onApi);
            results.push(m);
            console.log(
              `${String(run).padStart(3)}  ${m.source.padEnd(16)}  ${(m.bytes / 1e6).toFixed(1).padStart(7)}  ${m.seconds.toFixed(3).padStart(7)}  ` +
                `${m.mbps.toFixed(0).padStart(8)}  ${m.serverCores.toFixed(2).padStart(13)}  ${m.otherCores.toFixed(2).padStart(7)}`,
            );
          }
        }
      }
    } finally {
      clearInterval(sampler);
    }
    const rssAfter = rssMb(api.pid);
    if (api.exitCode() !== null) throw new Error(`the API exited during the benchmark:\n${api.tail.join('\n')}`);

    console.log('');
    for (const format of FORMATS) {
      const apiRates = results.filter((m) => m.format === format && m.api).map((m) => m.mbps);
      const fileRates = results.filter((m) => m.format === format && !m.api).map((m) => m.mbps);
      const rb = best(apiRates) / best(fileRates);
      const rm = median(apiRates) / median(fileRates);
      const verdict = (x: number) => (x >= TARGET ? 'ok' : 'BELOW TARGET');
      console.log(
        `${format.padEnd(5)}: API best ${best(apiRates).toFixed(0)} MB/s, median ${median(apiRates).toFixed(0)} MB/s; ` +
          `file best ${best(fileRates).toFixed(0)} MB/s, median ${median(fileRates).toFixed(0)} MB/s; ` +
          `API/file x${rb.toFixed(2)} best/best (${verdict(rb)}), x${rm.toFixed(2)} median/median (${verdict(rm)}); target >= ${TARGET}`,
      );
    }
    const peak = Math.max(sampledPeak, hwmReset ? rssAfter.peak : 0);
    console.log(
      `API process RSS: ${rssBefore.rss.toFixed(0)} MB before the streams, peak ${peak.toFixed(0)} MB during them ` +
        `(${hwmReset ? 'VmHWM reset before the streams, and ' : ''}10 ms sampling), ${rssAfter.rss.toFixed(0)} MB after`,
    );
    if (CPU_PROF) console.log(`API and worker CPU profiles written to ${CPU_PROF} when they exit`);
  } finally {
    await session.close();
  }
}

await main();
