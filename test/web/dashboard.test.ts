/**
 * The dashboard in a real browser (Chromium through playwright-core, loopback only) against the real app listening on a loopback port with in-process workers:
 * a copy of corpus-mini (plus one broken clip) registered through the API; the page lists
 * it, draws the class-count bars with the API's counts, loads spectrogram images and
 * audio, starts a featurization from the keyboard and follows its server-sent events to
 * done, then lists the skipped clip. A second run with API_TOKENS: the page asks for the
 * token, reports a wrong one in its error region, then works with a read token.
 * Screenshots go to test-output/screenshots/.
 *
 * The browser: the system's Chromium when there is one, else the one inside the npm package
 * @sparticuz/chromium (test/helpers/browser.ts); AUDIOFEED_CHROMIUM names another. Every
 * test closes its browser and its service in t.after, so a failure anywhere ends the file.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { describe, test } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { startWorkers, type RunningWorkers } from '../../src/queue/workers.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { launchChromiumContext } from '../helpers/browser.ts';
import { cleanups, type Defer } from '../helpers/cleanup.ts';
import { PROJECT_ROOT, copyCorpus, testdata } from '../helpers/paths.ts';

const SCREENSHOTS = path.join(PROJECT_ROOT, 'test-output', 'screenshots');
const CLASSES = ['yes', 'no', 'up', 'down', 'left', 'right', '_unknown_', '_silence_'];
const BROKEN = 'up/zz-broken.wav';
const READ = 'dash-read-7d41c9';
const ADMIN = 'dash-admin-0b3e55';
const WAIT = { timeout: 15_000 };

interface Service {
  t: TestApp;
  workers: RunningWorkers;
  base: string;
  dataset: { class_counts: Record<string, Record<string, number>> };
  /** The subset holding the broken clip. */
  brokenSubset: 'training' | 'validation';
}

/** Starts the app and its workers; `defer` closes them when the test ends, passed or failed. */
async function startService(defer: Defer, env: Record<string, string> = {}, adminToken?: string): Promise<Service> {
  const t = await startTestApp(env);
  defer(() => t.close());
  const workers = startWorkers({ redisUrl: t.redisUrl, prefix: t.prefix, concurrency: 2, frontendBackend: 'auto', lockMs: 5000, log: () => {} });
  defer(() => workers.close());
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
  const dir = path.join(t.root, 'corpus-mini');
  copyCorpus(testdata('corpus-mini'), dir);
  fs.writeFileSync(path.join(dir, BROKEN), Buffer.from('RIFF\x24\x00\x00\x00WAVEjunk', 'latin1'));
  const auth: Record<string, string> = adminToken ? { authorization: `Bearer ${adminToken}` } : {};
  const res = await fetch(`${base}/v1/datasets`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...auth },
    body: JSON.stringify({
      name: 'corpus-mini',
      source: { type: 'directory', path: dir },
      classes: CLASSES,
      validation_split: 0.2,
      batch_size: 16,
      class_weights: 'balanced',
    }),
  });
  const dataset = (await res.json()) as Service['dataset'];
  assert.equal(res.status, 201, JSON.stringify(dataset));
  const val = await fetch(`${base}/v1/datasets/corpus-mini/samples?subset=validation&limit=10000`, { headers: auth });
  const inValidation = ((await val.json()) as { items: { entry: string | null }[] }).items.some((i) => i.entry === BROKEN);
  return { t, workers, base, dataset, brokenSubset: inValidation ? 'validation' : 'training' };
}

interface Browser {
  context: BrowserContext;
  page: Page;
  /** Requests to anything but the service's loopback origin, and uncaught page errors. */
  offLoopback: string[];
  pageErrors: string[];
}

/** Opens a browser; `defer` closes it when the test ends (before the service: last in, first out). */
async function openBrowser(defer: Defer, base: string): Promise<Browser> {
  const { context, binary, close } = await launchChromiumContext({ viewport: { width: 1280, height: 900 } });
  defer(close);
  console.log(`browser: ${binary.executablePath} (${binary.source})`);
  const origin = new URL(base).origin;
  const offLoopback: string[] = [];
  const pageErrors: string[] = [];
  context.on('request', (r) => {
    const url = r.url();
    if (!url.startsWith('blob:') && !url.startsWith('data:') && new URL(url).origin !== origin) offLoopback.push(url);
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (e) => pageErrors.push(e.message));
  return { context, page, offLoopback, pageErrors };
}

/**
 * Polls a page expression until it is truthy. (Evaluated over the DevTools protocol, so the
 * page's strict CSP, which forbids eval, stays on; page.waitForFunction evals in the page.)
 */
async function waitUntil(page: Page, expression: string, what: string, timeoutMs = WAIT.timeout): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await page.evaluate(expression))) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await page.waitForTimeout(25);
  }
}

async function screenshot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, name), fullPage: true });
}

/** The bars the page drew for a subset: class, count label, bar height. */
async function bars(page: Page, subset: string): Promise<{ cls: string; label: string; count: string; height: number }[]> {
  return page.evaluate(`[...document.querySelectorAll('svg.chart[data-subset="${subset}"] g.bar-group')].map((g) => ({
    cls: g.getAttribute('data-class'),
    label: g.querySelector('text.count').textContent,
    count: g.querySelector('rect.bar').getAttribute('data-count'),
    height: Number(g.querySelector('rect.bar').getAttribute('height')),
  }))`);
}

async function checkCharts(page: Page, svc: Service): Promise<void> {
  const subsets = Object.keys(svc.dataset.class_counts);
  assert.deepEqual(subsets.sort(), ['training', 'validation']);
  for (const subset of subsets) {
    await page.locator(`svg.chart[data-subset="${subset}"]`).waitFor(WAIT);
    const drawn = await bars(page, subset);
    const counts = svc.dataset.class_counts[subset]!;
    assert.deepEqual(
      drawn.map((b) => [b.cls, b.label]),
      CLASSES.map((c) => [c, String(counts[c])]),
      `${subset} bars`,
    );
    const max = Math.max(...Object.values(counts));
    for (const b of drawn) assert.ok(Math.abs(b.height - (160 * Number(b.label)) / max) < 0.01, `${subset} ${b.cls} bar height ${b.height}`);
  }
}

async function checkPreviews(page: Page): Promise<void> {
  // Every card settles: its image loads, or (the broken clip) it says why there is none.
  await waitUntil(
    page,
    `(() => {
      const cards = [...document.querySelectorAll('.sample-card')];
      return cards.length >= ${CLASSES.length} && cards.every((c) => {
        const img = c.querySelector('img');
        return img ? img.complete && img.naturalWidth > 0 : c.querySelector('.sample-note').textContent !== '';
      });
    })()`,
    'every sample card to settle',
  );
  const images = (await page.evaluate(
    `[...document.querySelectorAll('.sample-card img')].map((i) => ({ src: i.src, alt: i.alt, w: i.naturalWidth, h: i.naturalHeight }))`,
  )) as { src: string; alt: string; w: number; h: number }[];
  const loaded = images.filter((i) => i.w > 0);
  assert.ok(loaded.every((i) => i.src.startsWith('blob:') && i.w > 294 && i.h > 96 && /^Spectrogram of \w+ sample \d+, class /.test(i.alt)), JSON.stringify(loaded.slice(0, 3)));
  // Every class shows a sample or says why not (the broken clip's card shows the problem).
  await waitUntil(
    page,
    `document.querySelectorAll('.sample-card audio').length > 0 && [...document.querySelectorAll('.sample-card audio')].some((a) => a.src.startsWith('blob:') && a.readyState >= 1 && Math.abs(a.duration - 1) < 0.01)`,
    'an audio clip of 1 s to load',
  );
}

/** Presses Tab until the element matching `selector` has the focus (proves it is reachable by keyboard). */
async function tabTo(page: Page, selector: string): Promise<number> {
  await page.evaluate(`document.activeElement && document.activeElement.blur()`);
  for (let presses = 1; presses <= 250; presses++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate(`document.activeElement && document.activeElement.matches(${JSON.stringify(selector)})`)) return presses;
  }
  assert.fail(`${selector} is not reachable with Tab`);
}

async function featurizeFromKeyboard(page: Page, subset: string): Promise<string[]> {
  const text = page.locator(`[data-progress="${subset}"]`);
  const seen: string[] = [];
  await tabTo(page, `button[data-featurize="${subset}"]`);
  const outline = await page.evaluate(`getComputedStyle(document.activeElement).outlineStyle + ' ' + getComputedStyle(document.activeElement).outlineWidth`);
  assert.match(String(outline), /^solid [2-9]/, 'focused button has a visible outline');
  await page.keyboard.press('Enter');
  const deadline = Date.now() + 20_000;
  for (;;) {
    const s = (await text.textContent()) ?? '';
    if (seen.at(-1) !== s) seen.push(s);
    if ((await text.getAttribute('data-state')) === 'completed') break;
    assert.ok(!/Job (failed|cancelled)/.test(s), s);
    assert.ok(Date.now() < deadline, `featurization did not finish: ${seen.join(' | ')}`);
    await page.waitForTimeout(25);
  }
  assert.equal(await text.getAttribute('aria-live'), 'polite');
  const done = (await text.textContent()) ?? '';
  const m = /Job completed: (\d+) of (\d+) shards, (\d+) of (\d+) clips/.exec(done);
  assert.ok(m && m[1] === m[2] && m[3] === m[4] && Number(m[4]) > 0, done);
  const bar = (await page.evaluate(`(() => { const p = document.querySelector('[data-subset="${subset}"] progress'); return [p.value, p.max]; })()`)) as number[];
  assert.deepEqual(bar[0], bar[1]);
  return seen;
}

/** WCAG contrast ratio of an element's text against its (first opaque ancestor's) background. */
async function contrast(page: Page, selector: string): Promise<number> {
  return page.evaluate(`(() => {
    const rgb = (s) => (s.match(/[\\d.]+/g) || []).map(Number);
    const lum = ([r, g, b]) => { const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; }; return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
    const el = document.querySelector(${JSON.stringify(selector)});
    let bgEl = el, bg;
    for (;;) { bg = rgb(getComputedStyle(bgEl).backgroundColor); if ((bg.length < 4 || bg[3] > 0) && bg.length >= 3) break; bgEl = bgEl.parentElement; if (!bgEl) { bg = [255, 255, 255]; break; } }
    const a = lum(rgb(getComputedStyle(el).color)), b = lum(bg);
    return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  })()`);
}

async function checkAccessibilityBasics(page: Page): Promise<void> {
  const facts = (await page.evaluate(`({
    h1: document.querySelectorAll('h1').length,
    headings: [...document.querySelectorAll('h1,h2,h3,h4')].map((h) => Number(h.tagName[1])),
    unlabelled: [...document.querySelectorAll('input,select')].filter((i) => i.labels.length === 0).map((i) => i.id),
    noAlt: [...document.querySelectorAll('img')].filter((i) => !i.alt).length,
    errorsLive: document.getElementById('errors').getAttribute('aria-live'),
    clickableNonButtons: [...document.querySelectorAll('[onclick]')].length,
  })`)) as { h1: number; headings: number[]; unlabelled: string[]; noAlt: number; errorsLive: string; clickableNonButtons: number };
  assert.equal(facts.h1, 1);
  for (let i = 1; i < facts.headings.length; i++) assert.ok(facts.headings[i]! <= facts.headings[i - 1]! + 1, `heading levels ${facts.headings.join(',')}`);
  assert.deepEqual(facts.unlabelled, []);
  assert.equal(facts.noAlt, 0);
  assert.equal(facts.errorsLive, 'assertive');
  assert.equal(facts.clickableNonButtons, 0);
  for (const sel of ['body', 'button[data-featurize]', 'button.link-button', 'caption', '.progress-text', 'svg.chart text.label']) {
    const ratio = await contrast(page, sel);
    assert.ok(ratio >= 4.5, `${sel}: contrast ${ratio.toFixed(2)} < 4.5`);
  }
}

async function checkSkipped(page: Page, subset: string): Promise<void> {
  const row = page.locator(`.subset-feat[data-subset="${subset}"] table.skipped-clips tbody tr`);
  await row.first().waitFor(WAIT);
  assert.equal(await row.count(), 1);
  const cells = await row.first().locator('td').allTextContents();
  assert.equal(cells[1], BROKEN);
  assert.match(cells[2]!, /^[a-z0-9-]+$/);
  assert.ok(cells[3]!.length > 0);
}

describe('dashboard in chromium', () => {
  test('lists the dataset, draws its class counts, previews samples, featurizes with live progress', async (tc) => {
    const defer = cleanups(tc);
    const svc = await startService(defer);
    const b = await openBrowser(defer, svc.base);
    const { page } = b;
    const res = await page.goto(`${svc.base}/`);
    assert.equal(res?.status(), 200);
    await page.getByRole('button', { name: 'Show dataset corpus-mini' }).click();
    await page.getByRole('heading', { name: 'Dataset corpus-mini' }).waitFor(WAIT);
    await checkCharts(page, svc);
    await page.locator('.summary').waitFor(WAIT);
    assert.match((await page.locator('.summary').textContent()) ?? '', /^Training dataset: Found \d+ samples belonging to 8 classes:/);
    const weights = await page.locator('table.kv', { has: page.locator('caption', { hasText: 'Class weights' }) }).locator('tbody tr').count();
    assert.equal(weights, CLASSES.length);
    await checkPreviews(page);
    await screenshot(page, 'dashboard-samples.png');

    const seen = await featurizeFromKeyboard(page, svc.brokenSubset);
    assert.ok(seen.some((s) => s.startsWith('Job ')), seen.join(' | '));
    await checkSkipped(page, svc.brokenSubset);
    const other = svc.brokenSubset === 'training' ? 'validation' : 'training';
    await page.locator(`button[data-featurize="${other}"]`).click();
    await page.locator(`[data-progress="${other}"][data-state="completed"]`).waitFor(WAIT);
    await page.locator(`.subset-feat[data-subset="${other}"]`).getByText('No clip was skipped.').waitFor(WAIT);
    assert.equal(await page.locator('#errors .error').count(), 0, (await page.locator('#errors').textContent()) ?? '');
    await checkAccessibilityBasics(page);
    await page.locator(`.subset-feat[data-subset="${svc.brokenSubset}"]`).scrollIntoViewIfNeeded();
    await screenshot(page, 'dashboard-featurized.png');
    assert.deepEqual(b.offLoopback, []);
    assert.deepEqual(b.pageErrors, []);
  });

  test('with API_TOKENS: asks for the token, shows the API error for a wrong one, then works', async (tc) => {
    const defer = cleanups(tc);
    const svc = await startService(defer, { API_TOKENS: `${READ}:read,${ADMIN}:admin` }, ADMIN);
    const b = await openBrowser(defer, svc.base);
    const { page } = b;
    const seenAuth: string[] = [];
    b.context.on('request', (r) => {
      if (r.url().includes(READ) || r.url().includes(ADMIN)) assert.fail(`token in a URL: ${r.url()}`);
      if (r.url().includes('/v1/')) seenAuth.push(`${r.url()} ${r.headers().authorization ?? '-'}`);
    });
    const res = await page.goto(`${svc.base}/`);
    assert.equal(res?.status(), 200, 'the page itself is public; the data needs the token');
    const errors = page.locator('#errors');
    await errors.getByText('Unauthorized').waitFor(WAIT);
    assert.match((await errors.textContent()) ?? '', /needs a token/);
    assert.match((await page.locator('#token-status').textContent()) ?? '', /needs an API token/);
    assert.equal(await page.evaluate(`document.activeElement.id`), 'token-input');
    await screenshot(page, 'auth-token-asked.png');

    await page.getByLabel('API token').fill('not-a-token');
    await page.getByRole('button', { name: 'Use token' }).click();
    await errors.getByText(/the token is not valid/).waitFor(WAIT);
    assert.match((await page.locator('#token-status').textContent()) ?? '', /not accepted/);

    await page.getByLabel('API token').fill(READ);
    await page.keyboard.press('Enter');
    await page.getByRole('button', { name: 'Show dataset corpus-mini' }).click();
    await checkCharts(page, svc);
    await checkPreviews(page);
    assert.equal(await page.evaluate(`sessionStorage.getItem('audiofeed.token')`), READ);
    await featurizeFromKeyboard(page, 'training');
    assert.equal(await errors.locator('.error').count(), 0, (await errors.textContent()) ?? '');
    await screenshot(page, 'auth-working.png');
    const lastApiCalls = seenAuth.slice(-10);
    assert.ok(lastApiCalls.length > 0 && lastApiCalls.every((s) => s.endsWith(`Bearer ${READ}`)), lastApiCalls.join('\n'));

    // The token survives a reload of the tab.
    await page.reload();
    await page.getByRole('button', { name: 'Show dataset corpus-mini' }).waitFor(WAIT);
    assert.equal(await errors.locator('.error').count(), 0);
    assert.deepEqual(b.offLoopback, []);
    assert.deepEqual(b.pageErrors, []);
  });
});
