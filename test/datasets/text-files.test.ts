/**
 * src/core/datasets/text-files.ts: list and index files read as a stream of lines give the
 * lines the whole-text split gives (`\n`, `\r\n`, `\r`, also when a `\r\n` or a multi-byte
 * character straddles a chunk), bounded by size, and anything but a regular file is refused
 * without blocking.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { DatasetError } from '../../src/core/errors.ts';
import { parseSplitList, readSplitLists } from '../../src/core/datasets/split-lists.ts';
import { readTextBounded, readTextLines } from '../../src/core/datasets/text-files.ts';
import { readIndexFile } from '../../src/core/datasets/index-files.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'audiofeed-textfiles-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

async function lines(file: string, max = 1 << 30): Promise<string[]> {
  const it = await readTextLines(file, max, 'list file');
  assert.ok(it);
  const out: string[] = [];
  for await (const l of it) out.push(l);
  return out;
}

test('streamed lines equal the whole-text split, terminators and UTF-8 across 64 KiB chunks included', async () => {
  const CHUNK = 64 * 1024;
  // Padding places a \r\n, a 3-byte character and a lone \r exactly on chunk boundaries.
  let text = '\ufeffyes/first.wav\r\n';
  const padTo = (byte: number) => (text += 'a'.repeat(byte - Buffer.byteLength(text)));
  padTo(CHUNK - 1);
  text += '\r\nno/ü€.wav\r'; // \r is the last byte of chunk 1, \n the first of chunk 2
  padTo(2 * CHUNK - 1);
  text += '€x\n'; // € spans chunks 2 and 3
  padTo(3 * CHUNK - 1);
  text += '\ryes/last.wav'; // a lone \r ends chunk 3
  const file = path.join(dir, 'list.txt');
  fs.writeFileSync(file, text);
  assert.deepEqual(await lines(file), text.split(/\r\n|\r|\n/));
  assert.equal(await readTextBounded(file, 1 << 30, 'index file'), text);
  // parseSplitList over the whole text and readSplitLists' streamed parse agree.
  const whole = parseSplitList(text);
  assert.equal(whole.invalid.length, 3); // the three lines of a's are not inside a directory
  assert.deepEqual(
    whole.entries.map((e) => e.entry),
    ['yes/first.wav', 'no/ü€.wav', 'yes/last.wav'],
  );
});

test('a file over the bound is refused from its size; a FIFO and a device are refused without blocking; a directory is absent', async () => {
  const file = path.join(dir, 'big.txt');
  fs.writeFileSync(file, 'x/y.wav\n'.repeat(100));
  await assert.rejects(readTextLines(file, 799, 'list file'), (err: unknown) => err instanceof DatasetError && err.code === 'list-file-too-large');
  assert.equal((await lines(file, 800)).length, 101);

  const fifo = path.join(dir, 'fifo.txt');
  execFileSync('mkfifo', [fifo]);
  await assert.rejects(
    readTextLines(fifo, 1 << 20, 'list file'),
    (err: unknown) => err instanceof DatasetError && err.code === 'not-a-regular-file' && /fifo\.txt is a FIFO/.test(err.message),
  );
  await assert.rejects(readIndexFile(fifo), (err: unknown) => err instanceof DatasetError && err.code === 'not-a-regular-file');
  await assert.rejects(
    readTextLines('/dev/zero', 1 << 20, 'list file'),
    (err: unknown) => err instanceof DatasetError && err.code === 'not-a-regular-file' && err.extra.kind === 'character device',
  );
  assert.equal(await readTextLines(dir, 1 << 20, 'list file'), null);
  assert.equal(await readTextLines(path.join(dir, 'missing.txt'), 1 << 20, 'list file'), null);
});

test('readSplitLists honours its bound', async () => {
  const ds = path.join(dir, 'ds');
  fs.mkdirSync(path.join(ds, 'yes'), { recursive: true });
  fs.writeFileSync(path.join(ds, 'yes', 'a.wav'), '');
  fs.writeFileSync(path.join(ds, 'validation_list.txt'), 'yes/a.wav\n');
  fs.writeFileSync(path.join(ds, 'testing_list.txt'), '');
  await assert.rejects(readSplitLists(ds, ['yes'], 'listing', 5), (err: unknown) => err instanceof DatasetError && err.code === 'list-file-too-large');
  const lists = await readSplitLists(ds, ['yes'], 'listing', 10);
  assert.deepEqual([...lists.validation], ['yes/a.wav']);
});
