/**
 * GET /v1/jobs (issue #22 item 6): every featurization the queue holds, newest first,
 * each with the progress GET /v1/jobs/{id} answers, filtered by dataset and state and
 * paginated like GET /v1/datasets ({"jobs": [...], "total": n}, Link: rel="next").
 * Cancelled jobs stay listed (and answer with their progress) while their cancel mark
 * lasts. And GET /v1/datasets/{id}/jobs lists the list split's evaluation job (#20).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { connectIdleWorkers, startTestApp, startTestWorkers, registerDataset, type TestApp } from '../helpers/app.ts';
import { makeTree, smallCorpus, toneWav } from '../helpers/wav.ts';
import { waitFor } from '../helpers/wait.ts';
import type { RunningWorkers } from '../../jobs/workers.ts';
import { closeAll } from '../helpers/cleanup.ts';

let t: TestApp;
let workers: RunningWorkers | null = null;
let idle: { close(): Promise<void> } | null = null;

interface Job {
  id: string;
  dataset_id: string;
  subset: string;
  state: string;
  cancelled: boolean;
  shards_total: number;
  clips_total: number;
  created_at: string;
  status_url: string;
}

before(async () => {
  t = await startTestApp();
  smallCorpus(path.join(t.root, 'small'));
  await registerDataset(t, { name: 'a', source: { type: 'directory', path: 'small' }, classes: ['yes', 'no'], validation_split: 0.4 });
  // Another trim threshold: other features, so a featurization of its own.
  await registerDataset(t, { name: 'b', source: { type: 'directory', path: 'small' }, classes: ['yes', 'no'], trim_threshold_db: 30 });
});
after(() =>
  closeAll(
    () => idle?.close(),
    () => workers?.close(),
    () => t?.close(),
  ),
);

async function featurize(id: string, subset: string): Promise<{ job_id: string; created: boolean }> {
  const res = await t.app.inject({ method: 'POST', url: `/v1/datasets/${id}/featurize`, payload: { subset } });
  assert.equal(res.statusCode, 202, res.body);
  return res.json();
}

async function list(query = ''): Promise<{ jobs: Job[]; total: number; link: string | undefined }> {
  const res = await t.app.inject({ url: `/v1/jobs${query}` });
  assert.equal(res.statusCode, 200, res.body);
  const body = res.json() as { jobs: Job[]; total: number };
  assert.deepEqual(Object.keys(body).sort(), ['jobs', 'total']);
  return { ...body, link: res.headers.link as string | undefined };
}

/** Polls the listing until `done` holds (the workers run in this process). */
function listed(query: string, done: (l: { jobs: Job[]; total: number }) => boolean): Promise<{ jobs: Job[]; total: number }> {
  return waitFor(() => list(query), { what: `GET /v1/jobs${query} in the state awaited`, until: done, everyMs: 100 });
}

const newestFirst = (jobs: Job[]) =>
  [...jobs].sort((x, y) => Date.parse(y.created_at) - Date.parse(x.created_at) || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0)).map((j) => j.id);

describe('GET /v1/jobs', () => {
  let a1: string;
  let a2: string;
  let b1: string;

  before(async () => {
    // Workers are connected but take no job yet: the jobs stay queued, so one can be
    // cancelled (with no worker connected at all, featurize is a 503 no-workers).
    idle = await connectIdleWorkers(t);
    a1 = (await featurize('a', 'training')).job_id;
    a2 = (await featurize('a', 'validation')).job_id;
    b1 = (await featurize('b', 'training')).job_id;
    assert.equal(new Set([a1, a2, b1]).size, 3);
  });

  test('lists every featurization, newest first, each with its progress', async () => {
    const { jobs, total, link } = await list();
    assert.equal(total, 3);
    assert.equal(link, undefined);
    assert.deepEqual(jobs.map((j) => j.id), newestFirst(jobs));
    const by = new Map(jobs.map((j) => [j.id, j]));
    assert.deepEqual([a1, a2, b1].map((id) => [by.get(id)?.dataset_id, by.get(id)?.subset]), [['a', 'training'], ['a', 'validation'], ['b', 'training']]);
    for (const j of jobs) {
      // The same progress GET /v1/jobs/{id} answers (minus its request id).
      const single = (await t.app.inject({ url: `/v1/jobs/${j.id}` })).json();
      const { request_id: _, ...progress } = single;
      assert.deepEqual({ ...j, status_url: undefined, events_url: undefined }, { ...progress, status_url: undefined, events_url: undefined });
      assert.equal(j.status_url, `/v1/jobs/${j.id}`);
    }
  });

  test('filters by dataset', async () => {
    const onlyA = await list('?dataset=a');
    assert.equal(onlyA.total, 2);
    assert.deepEqual(new Set(onlyA.jobs.map((j) => j.id)), new Set([a1, a2]));
    assert.deepEqual((await list('?dataset=b')).jobs.map((j) => j.id), [b1]);
    assert.deepEqual(await list('?dataset=nothing-here'), { jobs: [], total: 0, link: undefined });
  });

  test('a cancelled job stays listed with its progress and filters as cancelled', async () => {
    const del = await t.app.inject({ method: 'DELETE', url: `/v1/jobs/${a2}` });
    assert.equal(del.statusCode, 202, del.body);
    const cancelled = await list('?state=cancelled');
    assert.equal(cancelled.total, 1);
    const [j] = cancelled.jobs;
    assert.deepEqual([j!.id, j!.dataset_id, j!.subset, j!.state, j!.cancelled], [a2, 'a', 'validation', 'cancelled', true]);
    assert.ok(j!.clips_total > 0);
    // Its id answers with the same progress, not only "cancelled".
    const single = (await t.app.inject({ url: `/v1/jobs/${a2}` })).json();
    assert.equal(single.dataset_id, 'a');
    assert.equal(single.state, 'cancelled');

    const all = await list();
    assert.equal(all.total, 3);
    const others = all.jobs.filter((x) => x.id !== a2);
    const state = others[0]!.state;
    assert.ok(others.every((x) => x.state === state && x.state !== 'cancelled'), JSON.stringify(others));
    assert.deepEqual(new Set((await list(`?state=${state}`)).jobs.map((x) => x.id)), new Set([a1, b1]));
    // `state` repeats: any of them.
    assert.equal((await list(`?state=cancelled&state=${state}`)).total, 3);
    assert.equal((await list('?state=completed')).total, 0);
  });

  test('limit and offset page through the list; Link rel="next" keeps the filters', async () => {
    const all = (await list()).jobs.map((j) => j.id);
    const seen: string[] = [];
    let url: string | undefined = '/v1/jobs?limit=1';
    const links: string[] = [];
    while (url !== undefined) {
      const res: Awaited<ReturnType<typeof t.app.inject>> = await t.app.inject({ url });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json().total, 3);
      seen.push(...res.json().jobs.map((j: Job) => j.id));
      const header = res.headers.link as string | undefined;
      url = header === undefined ? undefined : /^<([^>]+)>; rel="next"$/.exec(header)![1];
      if (url) links.push(url);
      assert.ok(links.length < 5);
    }
    assert.deepEqual(seen, all);
    assert.deepEqual(links, ['/v1/jobs?limit=1&offset=1', '/v1/jobs?limit=1&offset=2']);
    const filtered = await list('?dataset=a&limit=1');
    assert.equal(filtered.total, 2);
    assert.equal(filtered.link, '</v1/jobs?dataset=a&limit=1&offset=1>; rel="next"');
  });

  test('bad filters are 400 problems naming the parameter', async () => {
    for (const [query, pointer] of [
      ['state=finished', '/state/0'],
      ['dataset=..%2Fx', '/dataset'],
      ['limit=0', '/limit'],
      ['offset=-3', '/offset'],
      ['datset=a', '/datset'],
    ] as const) {
      const res = await t.app.inject({ url: `/v1/jobs?${query}` });
      assert.equal(res.statusCode, 400, `${query}: ${res.body}`);
      const p = res.json();
      assert.equal(p.type, 'https://audiofeed.dev/problems/validation-error');
      assert.equal(p.errors.length, 1, query);
      assert.equal(p.errors[0].pointer, pointer, query);
    }
  });

  test('jobs finish and are listed as completed; a featurization made again is no longer cancelled', async () => {
    workers = startTestWorkers(t);
    await workers.ready();
    await listed('?state=completed', (l) => l.total === 2);
    assert.deepEqual(new Set((await list('?state=completed')).jobs.map((j) => j.id)), new Set([a1, b1]));
    const again = await featurize('a', 'validation');
    assert.deepEqual(again, { ...again, job_id: a2, created: true });
    await listed('?state=completed', (l) => l.total === 3);
    assert.equal((await list('?state=cancelled')).total, 0);
  });
});

describe('GET /v1/datasets/{id}/jobs with the speech_commands_lists split', () => {
  const clip = (cls: string, i: number) => `${cls}/s${i}_nohash_0.wav`;
  before(async () => {
    const dir = path.join(t.root, 'sl');
    const files: Record<string, Buffer> = {};
    for (let i = 1; i <= 6; i++) files[clip('yes', i)] = toneWav(1600, 300 + 40 * i);
    for (let i = 1; i <= 5; i++) files[clip('no', i)] = toneWav(1600, 900 + 50 * i);
    makeTree(dir, files);
    fs.writeFileSync(path.join(dir, 'validation_list.txt'), `${clip('yes', 2)}\n${clip('no', 1)}\n`);
    fs.writeFileSync(path.join(dir, 'testing_list.txt'), `${clip('yes', 3)}\n${clip('no', 2)}\n${clip('no', 3)}\n`);
    await registerDataset(t, { name: 'sl', source: { type: 'directory', path: 'sl' }, classes: ['yes', 'no'], listing: 'speech_commands_lists' });
    workers ??= startTestWorkers(t);
    await workers.ready();
  });

  test('the evaluation list has a job of its own, listed under its name', async () => {
    const load = await t.app.inject({ method: 'POST', url: '/v1/datasets/sl/load', payload: { subset: 'evaluation' } });
    assert.equal(load.statusCode, 200, load.body);
    const { job_id } = await featurize('sl', 'evaluation');
    const res = await t.app.inject({ url: '/v1/datasets/sl/jobs' });
    assert.equal(res.statusCode, 200, res.body);
    const jobs = res.json().jobs as Job[];
    const evaluation = jobs.find((j) => j.id === job_id);
    assert.ok(evaluation, `the evaluation job in ${JSON.stringify(jobs)}`);
    assert.equal(evaluation.subset, 'evaluation');
    assert.equal(evaluation.clips_total, 3);
    // The queue's own record of the job says evaluation too (not the validation list's name).
    const listed = (await list('?dataset=sl')).jobs.find((j) => j.id === job_id);
    assert.equal(listed?.subset, 'evaluation');
  });
});
