/**
 * `summarize_dataset` text (spec §12) and a JSON form of the same information.
 * Sections follow the load (§8): training → Training + Validation; validation →
 * Validation; evaluation → Evaluation, from the evaluation counts when the load has an
 * evaluation subset of its own (`speech_commands_lists`), else from the validation counts
 * (MLTK evaluates on the validation files).
 */
import { rjust } from './py-format.ts';
import type { LoadResult } from './types.ts';

export interface SummarySection {
  name: 'Training' | 'Validation' | 'Evaluation';
  total: number;
  numClasses: number;
  /** `[class name, count]` in `classes` order (an array keeps the order for names like "1"). */
  counts: [string, number][];
}

function ordered(counts: Record<string, number>, classes: readonly string[]): [string, number][] {
  const out: [string, number][] = [];
  for (const c of classes) if (Object.prototype.hasOwnProperty.call(counts, c)) out.push([c, counts[c]!]);
  for (const [c, n] of Object.entries(counts)) if (!classes.includes(c)) out.push([c, n]);
  return out;
}

export function summarySections(result: LoadResult | null, classes: readonly string[]): SummarySection[] {
  if (!result) return [];
  const parts: [SummarySection['name'], Record<string, number> | undefined][] =
    result.kind === 'training'
      ? [
          ['Training', result.classCounts.training],
          ['Validation', result.classCounts.validation],
        ]
      : result.kind === 'validation'
        ? [['Validation', result.classCounts.validation]]
        : [['Evaluation', result.classCounts.evaluation ?? result.classCounts.validation]];
  const sections: SummarySection[] = [];
  for (const [name, counts] of parts) {
    if (!counts || Object.keys(counts).length === 0) continue;
    const list = ordered(counts, classes);
    sections.push({ name, total: list.reduce((s, [, n]) => s + n, 0), numClasses: list.length, counts: list });
  }
  return sections;
}

export function summarizeDataset(result: LoadResult | null, classes: string[]): string {
  const sections = summarySections(result, classes);
  if (sections.length === 0) return 'No dataset loaded';
  const lines: string[] = [];
  for (const s of sections) {
    lines.push(`${s.name} dataset: Found ${s.total} samples belonging to ${s.numClasses} classes:`);
    for (const [c, n] of s.counts) lines.push(`${rjust(c, 10)} = ${n}`);
  }
  return lines.join('\n').trimEnd();
}

export function summaryJson(
  result: LoadResult | null,
  classes: string[],
): { loaded: boolean; kind: LoadResult['kind'] | null; sections: SummarySection[]; text: string } {
  return {
    loaded: result !== null,
    kind: result?.kind ?? null,
    sections: summarySections(result, classes),
    text: summarizeDataset(result, classes),
  };
}
