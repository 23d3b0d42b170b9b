/** Writes small 16-bit PCM WAV files for tests (canonical 44-byte header). */
import fs from 'node:fs';
import path from 'node:path';

export function wavBytes(samples: Int16Array | number[], sampleRate = 16000, channels = 1): Buffer {
  const data = Int16Array.from(samples);
  const buf = Buffer.alloc(44 + data.length * 2);
  buf.write('RIFF', 0, 'latin1');
  buf.writeUInt32LE(36 + data.length * 2, 4);
  buf.write('WAVE', 8, 'latin1');
  buf.write('fmt ', 12, 'latin1');
  buf.writeUInt32LE(16, 16);
  buf.writeUInt16LE(1, 20);
  buf.writeUInt16LE(channels, 22);
  buf.writeUInt32LE(sampleRate, 24);
  buf.writeUInt32LE(sampleRate * channels * 2, 28);
  buf.writeUInt16LE(channels * 2, 32);
  buf.writeUInt16LE(16, 34);
  buf.write('data', 36, 'latin1');
  buf.writeUInt32LE(data.length * 2, 40);
  Buffer.from(data.buffer).copy(buf, 44);
  return buf;
}

/** A tone of `frames` samples (seeded by `freq`) so different files have different features. */
export function toneWav(frames = 1600, freq = 440, sampleRate = 16000): Buffer {
  const s = new Int16Array(frames);
  for (let i = 0; i < frames; i++) s[i] = Math.round(8192 * Math.sin((2 * Math.PI * freq * i) / sampleRate));
  return wavBytes(s, sampleRate);
}

/** Creates `files` (relative path → bytes or text) below `root`. */
export function makeTree(root: string, files: Record<string, Buffer | string>): void {
  for (const [rel, content] of Object.entries(files)) {
    const p = path.join(root, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, content);
  }
}

/** yes/no/maybe tree: 6 yes, 5 no, 3 maybe clips of distinct tones. */
export function smallCorpus(root: string): void {
  const files: Record<string, Buffer> = {};
  for (let i = 0; i < 6; i++) files[`yes/y${i}.wav`] = toneWav(1600, 300 + 40 * i);
  for (let i = 0; i < 5; i++) files[`no/n${i}.wav`] = toneWav(1600, 900 + 50 * i);
  for (let i = 0; i < 3; i++) files[`maybe/m${i}.wav`] = toneWav(1600, 2000 + 70 * i);
  makeTree(root, files);
}
