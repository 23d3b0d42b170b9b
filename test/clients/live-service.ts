/**
 * The real app listening on a loopback port, with in-process BullMQ workers and a temp copy
 * of corpus-mini registered, for tests that drive the training clients over real HTTP.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { startTestApp, startTestWorkers, type TestApp } from '../helpers/app.ts';
import { testdata } from '../helpers/paths.ts';
import type { RunningWorkers } from '../../jobs/workers.ts';

export const CLASSES = ['yes', 'no', 'up', 'down', 'left', 'right', '_unknown_', '_silence_'];
export const BATCH_SIZE = 16;

export interface LiveService {
  t: TestApp;
  baseUrl: string;
  /** Directory of the corpus copy relative to the app's data root (the registration path). */
  corpusPath: string;
  close(): Promise<void>;
}

export async function startLiveService(): Promise<LiveService> {
  const t = await startTestApp();
  let workers: RunningWorkers | null = null;
  try {
    const corpusPath = 'corpus-mini';
    fs.cpSync(testdata('corpus-mini'), path.join(t.root, corpusPath), { recursive: true, filter: (s) => !s.includes('.index') });
    workers = startTestWorkers(t);
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = t.app.server.address() as AddressInfo;
    const running = workers;
    return {
      t,
      baseUrl: `http://127.0.0.1:${port}`,
      corpusPath,
      async close() {
        await running.close();
        await t.close();
      },
    };
  } catch (err) {
    await workers?.close();
    await t.close();
    throw err;
  }
}

/** Registers the corpus copy as `id` through the HTTP API; returns the dataset view. */
export async function registerCorpus(live: LiveService, id: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${live.baseUrl}/v1/datasets`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({
      name: id,
      source: { type: 'directory', path: live.corpusPath },
      classes: CLASSES,
      validation_split: 0.2,
      batch_size: BATCH_SIZE,
    }),
  });
  const body = (await res.json()) as Record<string, unknown>;
  if (res.status !== 201) throw new Error(`registration of ${id} failed: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

/** Number of clips in a subset, from GET /v1/datasets/{id}/samples. */
export async function subsetSize(live: LiveService, id: string, subset: 'training' | 'validation'): Promise<number> {
  const res = await fetch(`${live.baseUrl}/v1/datasets/${id}/samples?subset=${subset}&limit=1`);
  if (!res.ok) throw new Error(`samples of ${id}/${subset}: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { total: number }).total;
}
