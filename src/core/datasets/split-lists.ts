/**
 * The `speech_commands_lists` listing: Speech Commands ships `validation_list.txt` and
 * `testing_list.txt` (one clip per line, relative to the dataset dir, e.g.
 * `yes/0a7c2a8d_nohash_0.wav`), and the accuracies papers report are measured on that
 * split. Every class directory is listed with the generic rules (spec §3, §4: index
 * files, code-point order or the shuffled index); then, per class and in index order,
 * an entry belongs to
 *   - `validation` when `validation_list.txt` names it,
 *   - `evaluation` when `testing_list.txt` names it,
 *   - `training` otherwise.
 * Unknown candidates are split the same way, so `_unknown_`/`_silence_` are selected per
 * subset with MLTK's rules (§6.1, §6.2) from that subset's part of every list.
 *
 * MLTK has no such listing; these list-file rules are ours:
 *   - both files must exist at the top of the dataset dir (`list-file-missing`); UTF-8,
 *     a leading byte-order mark is ignored;
 *   - each must be a regular file (`not-a-regular-file`: a FIFO, socket or device is
 *     refused without blocking) of at most MAX_LIST_FILE_BYTES (`list-file-too-large`),
 *     and is read as a stream of lines (./text-files.ts);
 *   - lines end at `\n`, `\r\n` or `\r`; each is stripped of surrounding whitespace
 *     (Python's `str.strip` set, as for index files); blank lines are ignored;
 *   - `\` is a path separator (`yes\a.wav` = `yes/a.wav`) and the path is normalised
 *     (`./yes//a.wav` = `yes/a.wav`); a line that is absolute, leaves the dataset dir or
 *     does not lie inside a directory (`a.wav`) is `list-entry-invalid`;
 *   - a line repeated in one file counts once; a clip named by both files is
 *     `list-entries-overlap` (it would be validated and tested on);
 *   - matching against listed entries is exact and case-sensitive;
 *   - a line under a directory the load lists (a requested class or an unknown
 *     candidate) must name an existing file, symlinks followed (`list-entry-not-found`);
 *     lines under other top-level directories are ignored, so a tree trimmed to the words
 *     one trains on still works with the original list files. A listed file the class
 *     listing does not contain (a non-wav file, a file added after a reused index) is
 *     simply not part of any subset.
 * Errors name the list file and at most `MAX_REPORTED_LINES` offending lines (with their
 * 1-based line numbers); `extra` carries the same, plus the total count.
 */
import path from 'node:path';
import { DatasetError } from '../errors.ts';
import { findMissing, pyStrip, type ExistenceStrategy } from './index-files.ts';
import type { SubsetName } from './subset.ts';
import { DEFAULT_MAX_LIST_FILE_BYTES, readTextLines } from './text-files.ts';

export const VALIDATION_LIST_FILE = 'validation_list.txt';
export const TESTING_LIST_FILE = 'testing_list.txt';
export const MAX_REPORTED_LINES = 10;

export interface ListLine {
  /** 1-based physical line number (blank lines counted). */
  line: number;
  /** Normalised clip path (`<class>/…`, `/`-separated). */
  entry: string;
}

export interface ParsedList {
  /** Unique entries in order of first appearance. */
  entries: ListLine[];
  /** Lines that are not a clip path inside the dataset dir (as written, stripped). */
  invalid: { line: number; text: string }[];
}

export interface SplitLists {
  validation: ReadonlySet<string>;
  evaluation: ReadonlySet<string>;
}

/** `''` for a blank line, `null` for an invalid one, else the normalised entry. */
export function normaliseListLine(raw: string): string | null {
  const stripped = pyStrip(raw);
  if (stripped === '') return '';
  const slashed = stripped.replace(/\\/g, '/');
  if (slashed.startsWith('/') || /^[A-Za-z]:\//.test(slashed) || slashed.includes('\0')) return null;
  const norm = path.posix.normalize(slashed);
  if (norm === '.' || norm === '..' || norm.startsWith('../') || norm.endsWith('/') || !norm.includes('/')) return null;
  return norm;
}

/** Parses a list file line by line (lines without their terminators, the first possibly with a BOM). */
export class SplitListParser {
  private readonly entries: ListLine[] = [];
  private readonly invalid: ParsedList['invalid'] = [];
  private readonly seen = new Set<string>();
  private n = 0;

  push(raw: string): void {
    const i = this.n++;
    const line = i === 0 && raw.startsWith('\ufeff') ? raw.slice(1) : raw;
    const entry = normaliseListLine(line);
    if (entry === '') return;
    if (entry === null) {
      this.invalid.push({ line: i + 1, text: pyStrip(line) });
      return;
    }
    if (this.seen.has(entry)) return;
    this.seen.add(entry);
    this.entries.push({ line: i + 1, entry });
  }

  result(): ParsedList {
    return { entries: this.entries, invalid: this.invalid };
  }
}

export function parseSplitList(text: string): ParsedList {
  const parser = new SplitListParser();
  for (const raw of text.split(/\r\n|\r|\n/)) parser.push(raw);
  return parser.result();
}

/** The part of one class list (in its index order) that a subset gets. */
export function listPart(entries: readonly string[], lists: SplitLists, subset: SubsetName): string[] {
  if (subset === 'validation') return entries.filter((e) => lists.validation.has(e));
  if (subset === 'evaluation') return entries.filter((e) => lists.evaluation.has(e));
  return entries.filter((e) => !lists.validation.has(e) && !lists.evaluation.has(e));
}

interface Offenders {
  file: string;
  count: number;
  lines: { line: number; entry?: string; text?: string }[];
}

/** `<file> <what>: line 3: yes/x.wav, line 9: …, and 4 more`; `what` = [singular, plural]. */
function describe(o: Offenders, what: readonly [string, string]): string {
  const shown = o.lines.map((l) => `line ${l.line}: ${l.entry ?? JSON.stringify(l.text)}`).join(', ');
  const more = o.count > o.lines.length ? `, and ${o.count - o.lines.length} more` : '';
  return `${o.file} ${o.count === 1 ? what[0] : what[1].replace('{n}', String(o.count))}: ${shown}${more}`;
}

/** A list file parsed as it streams in; null when it does not exist (or is a directory). */
async function readListFile(file: string, maxBytes: number): Promise<ParsedList | null> {
  const lines = await readTextLines(file, maxBytes, 'list file');
  if (lines === null) return null;
  const parser = new SplitListParser();
  for await (const raw of lines) parser.push(raw);
  return parser.result();
}

/**
 * Reads and checks both list files of `datasetDir`. `listedDirs` are the top-level
 * directories the load lists (requested classes and unknown candidates): only lines
 * under them are checked for existence. `maxBytes`: MAX_LIST_FILE_BYTES.
 */
export async function readSplitLists(
  datasetDir: string,
  listedDirs: readonly string[],
  existence: ExistenceStrategy = 'listing',
  maxBytes: number = DEFAULT_MAX_LIST_FILE_BYTES,
): Promise<SplitLists> {
  const files = [path.join(datasetDir, VALIDATION_LIST_FILE), path.join(datasetDir, TESTING_LIST_FILE)] as const;
  const texts = await Promise.all(files.map((f) => readListFile(f, maxBytes)));
  const missing = files.filter((_, i) => texts[i] === null);
  if (missing.length > 0) {
    throw new DatasetError(
      'list-file-missing',
      `listing speech_commands_lists needs ${VALIDATION_LIST_FILE} and ${TESTING_LIST_FILE} in the dataset dir; not found: ${missing.join(', ')}`,
      { missingFiles: missing, listing: 'speech_commands_lists' },
    );
  }
  const parsed = texts as ParsedList[];

  const invalid: Offenders[] = [];
  parsed.forEach((p, i) => {
    if (p.invalid.length === 0) return;
    invalid.push({ file: files[i]!, count: p.invalid.length, lines: p.invalid.slice(0, MAX_REPORTED_LINES) });
  });
  if (invalid.length > 0) {
    throw new DatasetError(
      'list-entry-invalid',
      invalid
        .map((o) =>
          describe(o, [
            'has 1 line that is not the path of a clip inside a class directory',
            'has {n} lines that are not the path of a clip inside a class directory',
          ]),
        )
        .join('; '),
      { listFiles: invalid },
    );
  }

  const [validation, testing] = parsed as [ParsedList, ParsedList];
  const testingLines = new Map(testing.entries.map((l) => [l.entry, l.line]));
  const both = validation.entries.filter((l) => testingLines.has(l.entry));
  if (both.length > 0) {
    const shown = both
      .slice(0, MAX_REPORTED_LINES)
      .map((l) => `${l.entry} (lines ${l.line} and ${testingLines.get(l.entry)})`)
      .join(', ');
    const more = both.length > MAX_REPORTED_LINES ? `, and ${both.length - MAX_REPORTED_LINES} more` : '';
    throw new DatasetError(
      'list-entries-overlap',
      `${both.length} clip${both.length === 1 ? ' is' : 's are'} named by both ${files[0]} and ${files[1]}: ${shown}${more}`,
      {
        listFiles: [...files],
        count: both.length,
        entries: both.slice(0, MAX_REPORTED_LINES).map((l) => ({
          entry: l.entry,
          validationLine: l.line,
          testingLine: testingLines.get(l.entry)!,
        })),
      },
    );
  }

  const listed = new Set(listedDirs);
  const notFound: Offenders[] = [];
  for (let i = 0; i < parsed.length; i++) {
    const checked = parsed[i]!.entries.filter((l) => listed.has(l.entry.slice(0, l.entry.indexOf('/'))));
    const absent = new Set(await findMissing(datasetDir, checked.map((l) => l.entry), { strategy: existence }));
    if (absent.size === 0) continue;
    const lines = checked.filter((l) => absent.has(l.entry));
    notFound.push({ file: files[i]!, count: lines.length, lines: lines.slice(0, MAX_REPORTED_LINES) });
  }
  if (notFound.length > 0) {
    throw new DatasetError(
      'list-entry-not-found',
      notFound.map((o) => describe(o, ['names 1 clip that does not exist', 'names {n} clips that do not exist'])).join('; '),
      { listFiles: notFound },
    );
  }
  return {
    validation: new Set(validation.entries.map((l) => l.entry)),
    evaluation: new Set(testing.entries.map((l) => l.entry)),
  };
}
