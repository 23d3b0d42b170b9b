/**
 * A request's clip DSP runs off the API's event loop (jobs/dsp-pool.ts behind the DspPort):
 * while a heavy-but-valid clip is being computed for POST /v1/features, /healthz and
 * /metrics answer; a job past DSP_DEADLINE_MS is a 503 naming the deadline and its thread is
 * replaced; a full queue is a 503 with Retry-After; /metrics exports the DSP gauges and an
 * event-loop delay histogram; closing the app stops every DSP thread.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { wavBytes } from '../helpers/wav.ts';
import { waitFor } from '../helpers/wait.ts';
import { injectForm } from '../helpers/multipart.ts';
import { heavyClip } from './helpers.ts';

const P = 'https://audiofeed.dev/problems/';

/**
 * A valid clip that costs seconds: `n` samples at 1001 Hz (just above the 1000 Hz floor),
 * resampled to 16 kHz (16 × the samples, under the 64 Mi output cap), then trimmed.
 */
async function postFeatures(t: TestApp, wav: Buffer) {
  const form = new FormData();
  form.append('file', new Blob([wav]), 'heavy.wav');
  return injectForm(t.app, '/v1/features', form, { accept: 'application/json' });
}

/** One sample of a metric from /metrics (null when the series is absent). */
async function metric(t: TestApp, series: string): Promise<number | null> {
  const res = await t.app.inject({ url: '/metrics' });
  assert.equal(res.statusCode, 200);
  const line = res.body.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? null : Number(line.slice(series.length + 1));
}

describe('clip DSP off the event loop', () => {
  let t: TestApp;
  const HEAVY = heavyClip(3_000_000);

  before(async () => {
    t = await startTestApp({ DSP_THREADS: '1', DSP_MAX_QUEUE: '0' });
  });
  after(async () => {
    await t?.close();
  });

  test('/healthz answers while a heavy clip is being computed for POST /v1/features', async () => {
    let settled = false;
    const heavy = postFeatures(t, HEAVY).finally(() => (settled = true));
    // Wait for the state: the job runs on a DSP thread.
    await waitFor(async () => (await metric(t, 'audiofeed_dsp_jobs_in_flight')) ?? 0, { what: 'a DSP job in flight (the metric)', until: (n) => n > 0, everyMs: 20 });
    const health = await t.app.inject({ url: '/healthz' });
    assert.equal(health.statusCode, 200);
    assert.equal(settled, false, '/healthz answered before the DSP job ended');
    assert.equal(await metric(t, 'audiofeed_dsp_jobs_in_flight'), 1, 'the DSP job is still in flight after /healthz answered');

    // The queue bound: one thread busy, no queue (DSP_MAX_QUEUE=0): the next DSP job is refused at once.
    const busy = await postFeatures(t, heavyClip(20_000));
    assert.equal(settled, false);
    assert.equal(busy.statusCode, 503, busy.body);
    assert.equal(busy.json().type, `${P}dsp-busy`);
    assert.ok(Number(busy.headers['retry-after']) >= 1, 'Retry-After says when to come back');
    assert.match(busy.json().detail, /DSP_MAX_QUEUE/);

    const res = await heavy;
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json().shape, [98, 32]);
    assert.equal(await metric(t, 'audiofeed_dsp_jobs_in_flight'), 0);
    assert.equal(await metric(t, 'audiofeed_dsp_jobs_refused_total{reason="busy"}'), 1);
  });

  test('/metrics exports the event-loop delay as a histogram', async () => {
    const res = await t.app.inject({ url: '/metrics' });
    assert.match(res.body, /# TYPE audiofeed_event_loop_delay_seconds histogram/);
    const inf = Number(/audiofeed_event_loop_delay_seconds_bucket\{le="\+Inf"\} (\d+)/.exec(res.body)?.[1]);
    const count = Number(/audiofeed_event_loop_delay_seconds_count (\d+)/.exec(res.body)?.[1]);
    assert.ok(count > 0, 'the loop was sampled');
    assert.equal(inf, count);
    // Cumulative buckets never decrease.
    const buckets = [...res.body.matchAll(/audiofeed_event_loop_delay_seconds_bucket\{le="([^"]+)"\} (\d+)/g)].map((m) => Number(m[2]));
    for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i]! >= buckets[i - 1]!, `bucket ${i}`);
  });
});

describe('the DSP deadline', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ DSP_THREADS: '1', DSP_DEADLINE_MS: '100' });
  });
  after(async () => {
    await t?.close();
  });

  test('a job past DSP_DEADLINE_MS is a 503 naming the deadline; its thread is replaced and the next clip is computed', async () => {
    const res = await postFeatures(t, heavyClip(2_000_000));
    assert.equal(res.statusCode, 503, res.body);
    const p = res.json();
    assert.equal(p.type, `${P}dsp-deadline-exceeded`);
    assert.equal(p.deadline_ms, 100);
    assert.match(p.detail, /DSP deadline of 100 ms \(DSP_DEADLINE_MS\)/);
    assert.equal(await metric(t, 'audiofeed_dsp_jobs_refused_total{reason="deadline"}'), 1);
    // A small clip at 16 kHz is cheap: a fresh thread computes it (its start-up is not counted).
    const ok = await postFeatures(t, wavBytes(new Int16Array(16000).fill(1000), 16000));
    assert.equal(ok.statusCode, 200, ok.body);
  });
});

describe('DSP threads at shutdown', () => {
  test('warm() boots one thread ahead of the first request (once), which the first job then runs on', async () => {
    const t = await startTestApp({ DSP_THREADS: '2' });
    try {
      assert.equal(t.ctx.dsp.stats().started, 0, 'threads start on demand');
      t.ctx.dsp.warm();
      t.ctx.dsp.warm();
      assert.equal(t.ctx.dsp.stats().started, 1);
      assert.equal(await metric(t, 'audiofeed_dsp_threads_started'), 1);
      const res = await postFeatures(t, wavBytes(new Int16Array(16000).map((_, i) => Math.round(3000 * Math.sin(i / 5))), 16000));
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(t.ctx.dsp.stats().started, 1, 'the warmed thread computed it');
    } finally {
      await t.close();
    }
  });

  test('closing the app terminates every DSP thread, a job in flight included', async () => {
    const t = await startTestApp({ DSP_THREADS: '2' });
    let closed = false;
    try {
      const heavy = postFeatures(t, heavyClip(2_000_000));
      await waitFor(() => t.ctx.dsp.stats().inFlight, { what: 'a DSP job in flight', until: (n) => n > 0, everyMs: 20 });
      assert.equal(t.ctx.dsp.stats().started, 1);
      await t.close();
      closed = true;
      assert.equal(t.ctx.dsp.stats().started, 0, 'no DSP thread left');
      const res = await heavy;
      assert.equal(res.statusCode, 503, res.body);
      assert.equal(res.json().type, `${P}dsp-unavailable`);
    } finally {
      if (!closed) await t.close();
    }
  });
});
