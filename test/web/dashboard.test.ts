/**
 * The dashboard in a real browser (Chromium through playwright-core, loopback only) against
 * the real app listening on a loopback port with in-process workers: a copy of corpus-mini
 * (plus one broken clip) registered through the API.
 *
 *   1. From the list into the dataset's overview on a 1280x800 screen: the chart draws the
 *      API's class counts (training and validation side by side), the counts and class
 *      weights are in the per-class table, the frontend settings are collapsed, and it all
 *      fits the screen. Samples: a grid of spectrograms and audio, filtered by class.
 *      Featurization started from the keyboard while no worker runs (the job waits, its
 *      bar at 0), then the workers start: the bar's value rises to its maximum as the
 *      server-sent events arrive; the skipped clip is listed.
 *   2. Addresses: a dataset section opened directly in a fresh page (with its subset and
 *      class filter), reloaded, then sections visited and Back/Forward restoring each view;
 *      an unknown dataset and an unknown page say so.
 *   3. With API_TOKENS: a deep link asks for the token, reports a wrong one in the error
 *      region, then opens the linked view with a read token, which never enters a URL.
 *
 * Screenshots go to test-output/screenshots/ (viewport-sized where the layout must fit).
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
import { create as tarCreate } from 'tar';
import { startWorkers, type RunningWorkers } from '../../jobs/workers.ts';
import { connectIdleWorkers, startTestApp, type TestApp } from '../helpers/app.ts';
import { launchChromiumContext } from '../helpers/browser.ts';
import { cleanups, type Defer } from '../helpers/cleanup.ts';
import { PROJECT_ROOT, copyCorpus, testdata } from '../helpers/paths.ts';

const SCREENSHOTS = path.join(PROJECT_ROOT, 'test-output', 'screenshots');
const CLASSES = ['yes', 'no', 'up', 'down', 'left', 'right', '_unknown_', '_silence_'];
const BROKEN = 'up/zz-broken.wav';
const READ = 'dash-read-7d41c9';
const ADMIN = 'dash-admin-0b3e55';
const WAIT = { timeout: 15_000 };
const SCREEN = { width: 1280, height: 800 };
/** The chart's plot height in SVG units (web/src/chart.ts). */
const PLOT_HEIGHT = 160;

interface RegisteredDataset {
  class_counts: Record<string, Record<string, number>>;
  class_weights: { value: Record<string, number> | null };
}

interface Service {
  t: TestApp;
  base: string;
  dataset: RegisteredDataset;
  /** The subset holding the broken clip. */
  brokenSubset: 'training' | 'validation';
  /** Starts the in-process workers (at once unless `workers: 'later'`); idempotent. */
  startWorkers(): void;
}

/** Starts the app (and its workers, unless later); `defer` closes them when the test ends, passed or failed. */
async function startService(defer: Defer, opts: { env?: Record<string, string>; adminToken?: string; workers?: 'now' | 'later' } = {}): Promise<Service> {
  const t = await startTestApp(opts.env ?? {});
  defer(() => t.close());
  let workers: RunningWorkers | null = null;
  const start = () => {
    workers ??= startWorkers({ redisUrl: t.redisUrl, prefix: t.prefix, concurrency: 2, frontendBackend: 'auto', lockMs: 5000, log: () => {} });
  };
  defer(() => workers?.close());
  if (opts.workers !== 'later') start();
  else {
    // Workers that are connected but take no job until the real ones start: a featurization
    // is accepted and waits (with no worker connected at all it would be a 503 no-workers).
    const idle = await connectIdleWorkers(t);
    defer(() => idle.close());
  }
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
  const dir = path.join(t.root, 'corpus-mini');
  copyCorpus(testdata('corpus-mini'), dir);
  fs.writeFileSync(path.join(dir, BROKEN), Buffer.from('RIFF\x24\x00\x00\x00WAVEjunk', 'latin1'));
  const auth: Record<string, string> = opts.adminToken ? { authorization: `Bearer ${opts.adminToken}` } : {};
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
  const dataset = (await res.json()) as RegisteredDataset;
  assert.equal(res.status, 201, JSON.stringify(dataset));
  const val = await fetch(`${base}/v1/datasets/corpus-mini/samples?subset=validation&limit=10000`, { headers: auth });
  const inValidation = ((await val.json()) as { items: { entry: string | null }[] }).items.some((i) => i.entry === BROKEN);
  return { t, base, dataset, brokenSubset: inValidation ? 'validation' : 'training', startWorkers: start };
}

interface Browser {
  context: BrowserContext;
  page: Page;
  /** Requests to anything but the service's loopback origin, and uncaught page errors (of every page). */
  offLoopback: string[];
  pageErrors: string[];
  newPage(): Promise<Page>;
}

/** Opens a browser with a 1280x800 screen; `defer` closes it when the test ends (before the service: last in, first out). */
async function openBrowser(defer: Defer, base: string): Promise<Browser> {
  const { context, binary, close } = await launchChromiumContext({ viewport: SCREEN });
  defer(close);
  console.log(`browser: ${binary.executablePath} (${binary.source})`);
  const origin = new URL(base).origin;
  const offLoopback: string[] = [];
  const pageErrors: string[] = [];
  context.on('request', (r) => {
    const url = r.url();
    if (!url.startsWith('blob:') && !url.startsWith('data:') && new URL(url).origin !== origin) offLoopback.push(url);
  });
  context.on('page', (p) => p.on('pageerror', (e) => pageErrors.push(e.message)));
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (e) => pageErrors.push(e.message));
  return { context, page, offLoopback, pageErrors, newPage: () => context.newPage() };
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

/**
 * Retries an async check (its assertions included) until it passes, as playwright's
 * expect.poll does: the page is read again until it shows the state, never after a fixed
 * time. At the deadline the last failure is reported.
 */
async function eventually<T>(page: Page, check: () => Promise<T>, what: string, timeoutMs = WAIT.timeout): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() >= deadline) throw new Error(`timed out waiting for ${what}: ${(err as Error).message}`, { cause: err });
    }
    await page.waitForTimeout(25);
  }
}

/** A screenshot of the screen (what fits without scrolling) or of the whole page. */
async function screenshot(page: Page, name: string, fullPage = false): Promise<void> {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, name), fullPage });
}

function hashOf(page: Page): string {
  return decodeURIComponent(new URL(page.url()).hash);
}

/** The section on screen: its name, and the section link marked as the current page. */
async function shownSection(page: Page): Promise<{ shown: string[]; current: string | null }> {
  return page.evaluate(`({
    shown: [...document.querySelectorAll('.dataset-section')].filter((s) => !s.hidden && s.getClientRects().length > 0).map((s) => s.dataset.section),
    current: document.querySelector('nav.tabs a[aria-current="page"]')?.dataset.section ?? null,
  })`);
}

async function expectSection(page: Page, section: string): Promise<void> {
  await waitUntil(page, `!!document.querySelector('.dataset-section[data-section="${section}"]:not([hidden])')`, `the ${section} section`);
  assert.deepEqual(await shownSection(page), { shown: [section], current: section });
}

/** The bars the page drew for a subset: class, count label, bar height. */
async function bars(page: Page, subset: string): Promise<{ cls: string; label: string; count: string; height: number }[]> {
  return page.evaluate(`[...document.querySelectorAll('svg.chart g.bar-group[data-subset="${subset}"]')].map((g) => ({
    cls: g.getAttribute('data-class'),
    label: g.querySelector('text.count').textContent,
    count: g.querySelector('rect.bar').getAttribute('data-count'),
    height: Number(g.querySelector('rect.bar').getAttribute('height')),
  }))`);
}

/** One chart, both subsets side by side on one axis; the per-class table holds the same counts and the API's weights. */
async function checkOverview(page: Page, svc: Service): Promise<void> {
  const subsets = Object.keys(svc.dataset.class_counts).sort();
  assert.deepEqual(subsets, ['training', 'validation']);
  await page.locator('svg.chart').waitFor(WAIT);
  assert.equal(await page.locator('svg.chart').count(), 1);
  const max = Math.max(...subsets.flatMap((s) => Object.values(svc.dataset.class_counts[s]!)));
  const xs: Record<string, number[]> = {};
  for (const subset of subsets) {
    const drawn = await bars(page, subset);
    const counts = svc.dataset.class_counts[subset]!;
    assert.deepEqual(
      drawn.map((b) => [b.cls, b.label, b.count]),
      CLASSES.map((c) => [c, String(counts[c]), String(counts[c])]),
      `${subset} bars`,
    );
    for (const b of drawn) assert.ok(Math.abs(b.height - (PLOT_HEIGHT * Number(b.label)) / max) < 0.01, `${subset} ${b.cls} bar height ${b.height}`);
    xs[subset] = await page.evaluate(`[...document.querySelectorAll('svg.chart g.bar-group[data-subset="${subset}"] rect')].map((r) => Number(r.getAttribute('x')))`);
  }
  // Side by side: per class the validation bar right after the training bar, before the next class.
  CLASSES.forEach((c, i) => {
    assert.ok(xs.training![i]! < xs.validation![i]!, `${c}: validation bar right of training bar`);
    if (i + 1 < CLASSES.length) assert.ok(xs.validation![i]! < xs.training![i + 1]!, `${c}: its bars before the next class`);
  });
  const table = (await page.evaluate(`Object.fromEntries([...document.querySelectorAll('table.per-class tbody tr')].map((tr) => [tr.dataset.row, [...tr.querySelectorAll('td')].map((td) => td.textContent)]))`)) as Record<string, string[]>;
  assert.deepEqual(await page.locator('table.per-class thead th').allTextContents(), ['Class', ...CLASSES]);
  for (const subset of subsets) assert.deepEqual(table[subset], CLASSES.map((c) => String(svc.dataset.class_counts[subset]![c])));
  const weights = svc.dataset.class_weights.value!;
  assert.equal(table.weight!.length, CLASSES.length);
  table.weight!.forEach((cell, i) => assert.ok(Math.abs(Number(cell) - (weights[String(i)] ?? weights[CLASSES[i]!])!) < 1e-6, `weight of ${CLASSES[i]}: ${cell}`));
  // Frontend settings collapsed; the overview (up to the collapsed details) fits the screen.
  assert.equal(await page.locator('details.frontend-settings').getAttribute('open'), null);
  assert.equal(await page.locator('details.frontend-settings table').isVisible(), false);
  const fit = (await page.evaluate(`({
    bottom: document.querySelector('.dataset-section[data-section="overview"]').getBoundingClientRect().bottom,
    scrollWidth: document.documentElement.scrollWidth,
    height: innerHeight, width: innerWidth,
  })`)) as { bottom: number; scrollWidth: number; height: number; width: number };
  assert.deepEqual([fit.width, fit.height], [SCREEN.width, SCREEN.height]);
  assert.ok(fit.bottom <= fit.height, `the overview ends at ${fit.bottom}px, below the ${fit.height}px screen`);
  assert.ok(fit.scrollWidth <= fit.width, `the page is ${fit.scrollWidth}px wide`);
}

/** Every card of the grid settles: its image loads, or (the broken clip) it says why there is none. */
async function checkPreviews(page: Page, minCards: number): Promise<void> {
  await waitUntil(
    page,
    `(() => {
      const grid = document.querySelector('.dataset-section[data-section="samples"] .samples');
      const cards = grid ? [...grid.querySelectorAll('.sample-card')] : [];
      return grid.getAttribute('aria-busy') === 'false' && cards.length >= ${minCards} && cards.every((c) => {
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
  assert.ok(loaded.length > 0 && loaded.every((i) => i.src.startsWith('blob:') && i.w > 294 && i.h > 96 && /^Spectrogram of \w+ sample \d+, class /.test(i.alt)), JSON.stringify(loaded.slice(0, 3)));
  await waitUntil(
    page,
    `[...document.querySelectorAll('.sample-card audio')].some((a) => a.src.startsWith('blob:') && a.readyState >= 1 && Math.abs(a.duration - 1) < 0.01)`,
    'an audio clip of 1 s to load',
  );
}

/**
 * The cards on screen: their classes and sample positions (from the card, which stays: a
 * card whose preview failed loses its image, so its alt text is no record of it), the alt
 * texts of the images still there, and how many cards share the first row (a grid, not a column).
 */
async function cards(page: Page): Promise<{ classes: string[]; samples: string[]; alts: string[]; firstRow: number }> {
  return page.evaluate(`(() => {
    const cards = [...document.querySelectorAll('.dataset-section[data-section="samples"] .sample-card')];
    const top = cards.length ? cards[0].getBoundingClientRect().top : 0;
    return {
      classes: cards.map((c) => c.dataset.class),
      samples: cards.map((c) => c.dataset.sample),
      alts: cards.map((c) => c.querySelector('img')?.alt).filter((a) => a !== undefined),
      firstRow: cards.filter((c) => Math.abs(c.getBoundingClientRect().top - top) < 1).length,
    };
  })()`);
}

/** The samples API's items of a subset. */
async function items(svc: Service, subset: string, auth: Record<string, string> = {}): Promise<{ index: number; class: string }[]> {
  const res = await fetch(`${svc.base}/v1/datasets/corpus-mini/samples?subset=${subset}&limit=10000`, { headers: auth });
  return ((await res.json()) as { items: { index: number; class: string }[] }).items;
}

/** The grid for one class: only that class, as many as the API has (up to the page size of 20). */
async function checkClassFilter(page: Page, svc: Service, subset: string, cls: string, auth: Record<string, string> = {}): Promise<void> {
  const expected = (await items(svc, subset, auth)).filter((i) => i.class === cls).slice(0, 20);
  await waitUntil(
    page,
    `(() => { const g = document.querySelector('.dataset-section[data-section="samples"] .samples'); return g && g.dataset.class === ${JSON.stringify(cls)} && g.dataset.subset === ${JSON.stringify(subset)} && g.getAttribute('aria-busy') === 'false'; })()`,
    `the ${subset} grid of class ${cls}`,
  );
  // The grid, its filter controls and the address settle together: every check is retried
  // until the page shows it (a loaded machine may be between two of them when first read).
  await eventually(
    page,
    async () => {
      const shown = await cards(page);
      assert.deepEqual(shown.classes, expected.map(() => cls));
      assert.deepEqual(shown.samples, expected.map((i) => String(i.index)));
      assert.ok(shown.alts.every((a) => a.startsWith(`Spectrogram of ${subset} sample`) && a.includes(`, class ${cls} `)), shown.alts[0]);
      assert.equal(await page.locator('#samples-subset').inputValue(), subset);
      assert.equal(await page.getByRole('radio', { name: new RegExp(`^${cls} \\d+$`) }).isChecked(), true);
    },
    `the ${subset} grid of class ${cls} with ${expected.length} cards`,
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

/** Records every value the subset's progress bar takes (attribute changes, observed in the page). */
async function recordProgress(page: Page, subset: string): Promise<() => Promise<{ value: number; max: number; text: string; shards: string; facts: string }[]>> {
  await page.evaluate(`(() => {
    const bar = document.querySelector('progress[data-subset="${subset}"]');
    const text = document.querySelector('[data-progress="${subset}"]');
    const shards = document.querySelector('.subset-feat[data-subset="${subset}"] .shards');
    const facts = document.querySelector('table.facts');
    const log = (window.__progress_${subset} = []);
    const note = () => log.push({ value: bar.value, max: bar.max, text: text.textContent, shards: shards.textContent, facts: facts.textContent });
    new MutationObserver(note).observe(bar, { attributes: true, attributeFilter: ['value', 'max'] });
    new MutationObserver(note).observe(text, { childList: true, characterData: true, subtree: true });
  })()`);
  return () => page.evaluate(`window.__progress_${subset}`);
}

async function waitForJob(page: Page, subset: string): Promise<string> {
  const text = page.locator(`[data-progress="${subset}"]`);
  const deadline = Date.now() + 20_000;
  for (;;) {
    const s = (await text.textContent()) ?? '';
    if ((await text.getAttribute('data-state')) === 'completed') break;
    assert.ok(!/Job (failed|cancelled)/.test(s), s);
    assert.ok(Date.now() < deadline, `featurization did not finish: ${s}`);
    await page.waitForTimeout(25);
  }
  assert.equal(await text.getAttribute('aria-live'), 'polite');
  const done = (await text.textContent()) ?? '';
  const m = /^Job completed: (\d+) of (\d+) shards, (\d+) of (\d+) clips, [\d.]+ clips\/s\.$/.exec(done);
  assert.ok(m && m[1] === m[2] && m[3] === m[4] && Number(m[4]) > 0, done);
  const bar = (await page.evaluate(`(() => { const p = document.querySelector('progress[data-subset="${subset}"]'); return [p.value, p.max]; })()`)) as number[];
  assert.deepEqual(bar, [Number(m[4]), Number(m[4])]);
  assert.equal(await page.locator(`.subset-feat[data-subset="${subset}"] .progress-pct`).textContent(), '100%');
  return done;
}

async function featurizeFromKeyboard(page: Page, subset: string): Promise<void> {
  await tabTo(page, `button[data-featurize="${subset}"]`);
  const outline = await page.evaluate(`getComputedStyle(document.activeElement).outlineStyle + ' ' + getComputedStyle(document.activeElement).outlineWidth`);
  assert.match(String(outline), /^solid [2-9]/, 'focused button has a visible outline');
  await page.keyboard.press('Enter');
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

async function checkAccessibilityBasics(page: Page, selectors: string[]): Promise<void> {
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
  for (const sel of ['body', 'caption', ...selectors]) {
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

/** Clicks a section link and waits for the section. */
async function goToSection(page: Page, label: string, section: string): Promise<void> {
  await page.getByRole('navigation', { name: 'Sections of dataset corpus-mini' }).getByRole('link', { name: new RegExp(`^${label}`) }).click();
  await expectSection(page, section);
}

describe('dashboard in chromium', () => {
  test('overview fits the screen, samples filter by class, a featurization fills its progress bar live', async (tc) => {
    const defer = cleanups(tc);
    const svc = await startService(defer, { workers: 'later' });
    const b = await openBrowser(defer, svc.base);
    const { page } = b;
    const res = await page.goto(`${svc.base}/`);
    assert.equal(res?.status(), 200);
    await page.getByRole('link', { name: 'Show dataset corpus-mini' }).waitFor(WAIT);
    await screenshot(page, 'dashboard-list.png');
    await page.getByRole('link', { name: 'Show dataset corpus-mini' }).click();
    await page.getByRole('heading', { name: 'Dataset corpus-mini' }).waitFor(WAIT);
    assert.equal(hashOf(page), '#/datasets/corpus-mini');
    await expectSection(page, 'overview');
    assert.match(await page.title(), /^Overview · corpus-mini/);
    await checkOverview(page, svc);
    await waitUntil(page, `/training 0 of \\d+, validation 0 of \\d+/.test(document.querySelector('table.facts').textContent)`, 'the shard counts in the overview');
    await screenshot(page, 'dashboard-overview.png');

    await goToSection(page, 'Summary', 'summary');
    assert.equal(hashOf(page), '#/datasets/corpus-mini/summary');
    await page.locator('.summary').waitFor(WAIT);
    assert.match((await page.locator('.summary').textContent()) ?? '', /^Training dataset: Found \d+ samples belonging to 8 classes:/);
    await screenshot(page, 'dashboard-summary.png');

    await goToSection(page, 'Samples', 'samples');
    assert.equal(hashOf(page), '#/datasets/corpus-mini/samples');
    const training = await items(svc, 'training');
    const perClass = CLASSES.map((c) => Math.min(4, training.filter((i) => i.class === c).length)).reduce((a, n) => a + n, 0);
    await checkPreviews(page, perClass);
    const all = await cards(page);
    assert.deepEqual(all.classes, CLASSES.flatMap((c) => Array(Math.min(4, training.filter((i) => i.class === c).length)).fill(c)));
    assert.ok(all.firstRow >= 4, `${all.firstRow} cards in the first row`);
    await screenshot(page, 'dashboard-samples.png');
    await page.getByRole('radio', { name: /^no \d+$/ }).check();
    await checkClassFilter(page, svc, 'training', 'no');
    assert.equal(hashOf(page), '#/datasets/corpus-mini/samples?class=no');
    await checkPreviews(page, 1);
    await screenshot(page, 'dashboard-samples-class.png');

    // Featurize while no worker runs: the job waits with its bar at 0; then the workers start.
    await goToSection(page, 'Featurization', 'featurization');
    assert.equal(hashOf(page), '#/datasets/corpus-mini/featurization');
    await page.locator(`button[data-featurize="${svc.brokenSubset}"]`).waitFor(WAIT);
    const values = await recordProgress(page, svc.brokenSubset);
    await featurizeFromKeyboard(page, svc.brokenSubset);
    const text = page.locator(`[data-progress="${svc.brokenSubset}"]`);
    await waitUntil(page, `/^Job queued: 0 of \\d+ shards, 0 of \\d+ clips\\.$/.test(document.querySelector('[data-progress="${svc.brokenSubset}"]').textContent)`, 'the waiting job');
    await eventually(
      page,
      async () => {
        assert.deepEqual(await page.evaluate(`(() => { const p = document.querySelector('progress[data-subset="${svc.brokenSubset}"]'); return [p.value, p.max > 1, p.dataset.state]; })()`), [0, true, 'waiting-children']);
        assert.equal(await page.locator('nav.tabs .tab-badge').textContent(), '0%');
        assert.equal(await page.locator(`button[data-featurize="${svc.brokenSubset}"]`).isDisabled(), true);
      },
      'the waiting job on its bar, badge and button',
    );
    await screenshot(page, 'dashboard-featurization-queued.png');
    svc.startWorkers();
    const done = await waitForJob(page, svc.brokenSubset);
    const seen = await values();
    console.log(`progress bar values: ${seen.map((v) => `${v.value}/${v.max}`).join(' ')}`);
    // The bar's value only rises, from the waiting job's 0 to its maximum, as events arrive.
    const bars = seen.filter((v) => v.max > 1);
    assert.equal(bars[0]?.value, 0, JSON.stringify(seen));
    for (let i = 1; i < bars.length; i++) assert.ok(bars[i]!.value >= bars[i - 1]!.value && bars[i]!.max === bars[0]!.max, JSON.stringify(bars));
    assert.equal(bars.at(-1)!.value, bars[0]!.max, JSON.stringify(bars));
    // While clips remained, the text said how fast and how long (whenever an event came mid-job:
    // corpus-mini's subsets are one shard each, so the stream may go from 0 straight to done).
    for (const v of seen) {
      const m = /^Job running: \d+ of \d+ shards, (\d+) of (\d+) clips/.exec(v.text);
      if (m && Number(m[1]) < Number(m[2])) assert.match(v.text, /, [\d.]+ clips\/s, about \d+ (s|min \d+ s) left\.$/);
    }
    assert.ok(done.includes('clips/s'));
    // The shards on disk follow the same events as the job's line, in the subset's card and
    // in the overview, at every step (never "0 of N" beside a running job).
    for (const v of seen) {
      const m = /^Job \w+: (\d+) of (\d+) shards/.exec(v.text);
      if (!m) continue;
      assert.equal(v.shards, `Feature shards on disk: ${m[1]} of ${m[2]}.`, JSON.stringify(v));
      assert.ok(v.facts.includes(`${svc.brokenSubset} ${m[1]} of ${m[2]}`), JSON.stringify(v));
    }
    assert.ok(seen.some((v) => /^Job completed/.test(v.text)), JSON.stringify(seen));
    assert.equal(await page.locator('nav.tabs .tab-badge').isHidden(), true);
    await checkSkipped(page, svc.brokenSubset);
    const other = svc.brokenSubset === 'training' ? 'validation' : 'training';
    // The other subset is featurized by someone else (a client's request, not this page): the
    // page finds the job in the dataset's job list and shows how it went and the shards it left.
    const started = await fetch(`${svc.base}/v1/datasets/corpus-mini/featurize`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ subset: other }) });
    assert.equal(started.status, 202, await started.text());
    await waitForJob(page, other);
    await waitUntil(page, `/^Feature shards on disk: (\\d+) of \\1\\.$/.test(document.querySelector('.subset-feat[data-subset="${other}"] .shards').textContent)`, `the ${other} shards on disk`);
    await page.locator(`.subset-feat[data-subset="${other}"]`).getByText('No clip was skipped.').waitFor(WAIT);
    assert.equal(await page.locator('#errors .error').count(), 0, (await page.locator('#errors').textContent()) ?? '');
    await checkAccessibilityBasics(page, ['button[data-featurize]', 'nav.tabs a', 'nav.tabs a[aria-current="page"]', '.progress-text', 'svg.chart text.label', '.pill label', '.class-tag']);
    await screenshot(page, 'dashboard-featurized.png');
    assert.deepEqual(b.offLoopback, []);
    assert.deepEqual(b.pageErrors, []);
  });

  test('a dataset address opens its view in a fresh page and on reload; Back and Forward restore each view', async (tc) => {
    const defer = cleanups(tc);
    const svc = await startService(defer);
    const b = await openBrowser(defer, svc.base);

    // A link someone shared: the validation samples of class "yes", opened in a new page.
    const page = await b.newPage();
    await page.goto(`${svc.base}/#/datasets/corpus-mini/samples?subset=validation&class=yes`);
    await page.getByRole('heading', { name: 'Dataset corpus-mini' }).waitFor(WAIT);
    await expectSection(page, 'samples');
    await checkClassFilter(page, svc, 'validation', 'yes');
    await checkPreviews(page, 1);
    assert.match(await page.title(), /^Samples · corpus-mini/);
    assert.equal(await page.locator('#home').isHidden(), true);
    await screenshot(page, 'deep-link-samples.png');

    // Reload: the same view.
    await page.reload();
    await expectSection(page, 'samples');
    await checkClassFilter(page, svc, 'validation', 'yes');

    // Sections and filters; then Back and Forward.
    await goToSection(page, 'Overview', 'overview');
    assert.equal(hashOf(page), '#/datasets/corpus-mini');
    await goToSection(page, 'Featurization', 'featurization');
    await page.locator('button[data-featurize="training"]').waitFor(WAIT);
    await goToSection(page, 'Samples', 'samples');
    assert.equal(hashOf(page), '#/datasets/corpus-mini/samples');
    await page.locator('#samples-subset').selectOption('validation');
    await page.getByRole('radio', { name: /^left \d+$/ }).check();
    await checkClassFilter(page, svc, 'validation', 'left');
    assert.equal(hashOf(page), '#/datasets/corpus-mini/samples?subset=validation&class=left');
    await goToSection(page, 'Summary', 'summary');

    await page.goBack();
    await expectSection(page, 'samples');
    assert.equal(hashOf(page), '#/datasets/corpus-mini/samples?subset=validation&class=left', 'the filter was recorded in the entry it was chosen in');
    await checkClassFilter(page, svc, 'validation', 'left');
    await page.goBack();
    await expectSection(page, 'featurization');
    await page.goBack();
    await expectSection(page, 'overview');
    await checkOverview(page, svc);
    await page.goBack();
    await expectSection(page, 'samples');
    await checkClassFilter(page, svc, 'validation', 'yes');
    await page.goForward();
    await expectSection(page, 'overview');
    await page.goForward();
    await page.goForward();
    await expectSection(page, 'samples');
    await checkClassFilter(page, svc, 'validation', 'left');
    await page.goForward();
    await expectSection(page, 'summary');
    assert.match(await page.title(), /^Summary · corpus-mini/);

    // The way back to the list, and Back into the dataset again.
    await page.getByRole('link', { name: '← All datasets' }).click();
    await page.getByRole('link', { name: 'Show dataset corpus-mini' }).waitFor(WAIT);
    assert.equal(hashOf(page), '#/');
    assert.equal(await page.locator('#dataset').isHidden(), true);
    await page.goBack();
    await expectSection(page, 'summary');

    // Addresses that name nothing: an unknown dataset (the API's 404), an unknown page, a bad filter.
    await page.goto(`${svc.base}/#/datasets/no-such-set/samples`);
    await page.locator('#errors').getByText(/no-such-set/).first().waitFor(WAIT);
    assert.match((await page.locator('#errors').textContent()) ?? '', /HTTP 404/);
    assert.match((await page.locator('#dataset').textContent()) ?? '', /Dataset no-such-set could not be opened/);
    // The alert belongs to that dataset: opening another one (or the list) clears it.
    await page.goto(`${svc.base}/#/datasets/corpus-mini`);
    await expectSection(page, 'overview');
    await page.locator('#errors .error').first().waitFor({ ...WAIT, state: 'detached' });
    await page.goto(`${svc.base}/#/datasets/no-such-set`);
    await page.locator('#errors').getByText(/no-such-set/).first().waitFor(WAIT);
    await page.locator('#dataset').getByRole('link', { name: '← All datasets' }).click();
    await page.getByRole('link', { name: 'Show dataset corpus-mini' }).waitFor(WAIT);
    await page.locator('#errors .error').first().waitFor({ ...WAIT, state: 'detached' });
    await page.goto(`${svc.base}/#/nowhere`);
    await page.getByRole('heading', { name: 'No such page' }).waitFor(WAIT);
    await page.goto(`${svc.base}/#/datasets/corpus-mini/samples?subset=testing&class=cat`);
    await expectSection(page, 'samples');
    await waitUntil(page, `/No loaded subset "testing".*No class "cat"/.test(document.querySelector('.filter-note').textContent)`, 'the note on the unknown filter');
    await waitUntil(page, `location.hash === '#/datasets/corpus-mini/samples'`, 'the address to name what is shown');
    assert.deepEqual(b.offLoopback, []);
    assert.deepEqual(b.pageErrors, []);
  });

  test('with API_TOKENS: a deep link asks for the token, shows the API error for a wrong one, then opens the view', async (tc) => {
    const defer = cleanups(tc);
    const svc = await startService(defer, { env: { API_TOKENS: `${READ}:read,${ADMIN}:admin` }, adminToken: ADMIN });
    const b = await openBrowser(defer, svc.base);
    const { page } = b;
    const seenAuth: string[] = [];
    b.context.on('request', (r) => {
      if (r.url().includes(READ) || r.url().includes(ADMIN)) assert.fail(`token in a URL: ${r.url()}`);
      if (r.url().includes('/v1/')) seenAuth.push(`${r.url()} ${r.headers().authorization ?? '-'}`);
    });
    const res = await page.goto(`${svc.base}/#/datasets/corpus-mini/samples?class=up`);
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
    await expectSection(page, 'samples');
    const auth = { authorization: `Bearer ${READ}` };
    await checkClassFilter(page, svc, 'training', 'up', auth);
    await checkPreviews(page, 1);
    assert.equal(await page.evaluate(`sessionStorage.getItem('audiofeed.token')`), READ);
    await goToSection(page, 'Featurization', 'featurization');
    await page.locator('button[data-featurize="training"]').waitFor(WAIT);
    await featurizeFromKeyboard(page, 'training');
    await waitForJob(page, 'training');
    assert.equal(await errors.locator('.error').count(), 0, (await errors.textContent()) ?? '');
    await screenshot(page, 'auth-working.png');
    const lastApiCalls = seenAuth.slice(-10);
    assert.ok(lastApiCalls.length > 0 && lastApiCalls.every((s) => s.endsWith(`Bearer ${READ}`)), lastApiCalls.join('\n'));

    // The token survives a reload of the tab, and the view is the one in the address.
    await page.reload();
    await expectSection(page, 'featurization');
    await page.locator('[data-progress="training"][data-state="completed"]').waitFor(WAIT);
    assert.equal(await errors.locator('.error').count(), 0);
    assert.ok(!page.url().includes(READ) && !page.url().includes(ADMIN), page.url());
    assert.deepEqual(b.offLoopback, []);
    assert.deepEqual(b.pageErrors, []);
  });
  test('lifecycle from the page: register (directory and upload), load and unload, the augmentation preview, delete after confirming', async (tc) => {
    const defer = cleanups(tc);
    const svc = await startService(defer, { env: { API_TOKENS: `${READ}:read,${ADMIN}:admin` }, adminToken: ADMIN });
    const b = await openBrowser(defer, svc.base);
    const { page } = b;
    const admin = { authorization: `Bearer ${ADMIN}` };
    const words = path.join(svc.t.root, 'words');
    copyCorpus(testdata('corpus-mini'), words);
    const errors = page.locator('#errors');
    const useToken = async (token: string) => {
      await page.getByLabel('API token').fill(token);
      await page.getByRole('button', { name: 'Use token' }).click();
    };

    await page.goto(`${svc.base}/`);
    await errors.getByText('Unauthorized').waitFor(WAIT);
    await useToken(READ);
    await page.getByRole('link', { name: 'Show dataset corpus-mini' }).waitFor(WAIT);

    // Register a directory under the data root: with a read token the API refuses (403, shown
    // with its title and detail, and the token form asks for a wider one); with the admin token it works.
    await page.locator('#register > summary').click();
    await waitUntil(page, `[...document.querySelectorAll('#register-root option')].some((o) => o.value === ${JSON.stringify(svc.t.root)})`, 'the data roots from /v1/info');
    await page.locator('#register-root').selectOption(svc.t.root);
    await page.getByLabel('Directory in the root').fill('words');
    await page.getByLabel('Classes', { exact: true }).fill(CLASSES.join(', '));
    await page.getByLabel('Dataset id (optional)').fill('words');
    await page.getByLabel('Validation split (optional)').fill('0.2');
    await page.getByLabel('More settings (JSON, optional)').fill('{"batch_size": 8');
    await page.getByRole('button', { name: 'Register' }).click();
    await errors.getByText('Invalid JSON').waitFor(WAIT);
    await page.getByLabel('More settings (JSON, optional)').fill('{"batch_size": 8}');
    await page.getByRole('button', { name: 'Register' }).click();
    await errors.getByText('Forbidden').waitFor(WAIT);
    await waitUntil(page, `/^Not registered — Forbidden: /.test(document.querySelector('.register-form .form-status').textContent)`, 'the refusal beside the form');
    assert.match((await page.locator('#token-status').textContent()) ?? '', /wider scope/);
    await useToken(ADMIN);
    await page.getByRole('button', { name: 'Register' }).click();
    await page.getByRole('heading', { name: 'Dataset words' }).waitFor(WAIT);
    await waitUntil(page, `location.hash === '#/datasets/words'`, 'the new dataset\'s address');
    await eventually(page, async () => assert.equal(await errors.locator('.error').count(), 0), 'the alerts of the list to go');
    const registered = (await (await fetch(`${svc.base}/v1/datasets/words`, { headers: admin })).json()) as {
      source: { path: string };
      settings: { batch_size: number };
      loaded_subsets: string[];
      class_counts: Record<string, Record<string, number>>;
    };
    assert.equal(registered.source.path, words);
    assert.equal(registered.settings.batch_size, 8);
    assert.deepEqual(registered.loaded_subsets, ['training']);

    // Load and unload a subset in Manage; the page shows the dataset as the API has it.
    const nav = page.getByRole('navigation', { name: 'Sections of dataset words' });
    await nav.getByRole('link', { name: 'Manage' }).click();
    await expectSection(page, 'manage');
    const loaded = async () => ((await (await fetch(`${svc.base}/v1/datasets/words`, { headers: admin })).json()) as { loaded_subsets: string[] }).loaded_subsets;
    assert.equal(await page.locator('tr[data-subset="evaluation"] td[data-state]').getAttribute('data-state'), 'unloaded');
    await page.locator('button[data-subset-action="load"][data-subset="validation"]').click();
    await page.locator('button[data-subset-action="unload"][data-subset="validation"]').waitFor(WAIT);
    await expectSection(page, 'manage');
    assert.deepEqual([...(await loaded())].sort(), ['training', 'validation']);
    assert.equal(await page.locator('tr[data-subset="validation"] td[data-state]').getAttribute('data-state'), 'loaded');
    await page.locator('button[data-subset-action="unload"][data-subset="validation"]').click();
    await page.locator('button[data-subset-action="load"][data-subset="validation"]').waitFor(WAIT);
    assert.deepEqual(await loaded(), ['training']);
    await screenshot(page, 'dashboard-manage.png');

    // Augmentation: from a sample card to its preview; the augmented clip is the API's for the recipe shown.
    await nav.getByRole('link', { name: 'Samples' }).click();
    await expectSection(page, 'samples');
    const card = page.locator('.dataset-section[data-section="samples"] .sample-card').first();
    const position = await card.getAttribute('data-sample');
    await card.getByRole('link', { name: /^Augmentation preview of training sample \d+$/ }).click();
    await expectSection(page, 'augmentation');
    assert.equal(hashOf(page), `#/datasets/words/augmentation?n=${position}`);
    const settled = (seed: number) =>
      waitUntil(
        page,
        `(() => {
          const s = document.querySelector('.dataset-section[data-section="augmentation"]');
          const imgs = [...s.querySelectorAll('.preview-card img')];
          const audio = [...s.querySelectorAll('.preview-card audio')];
          return s.dataset.previewed === 'training/${position}/${seed}' && imgs.length === 2 && imgs.every((i) => i.complete && i.naturalWidth > 0 && i.src.startsWith('blob:'))
            && audio.every((a) => a.src.startsWith('blob:') && a.readyState >= 1 && Math.abs(a.duration - 1) < 0.01);
        })()`,
        `the original and augmented previews of seed ${seed}`,
      );
    await settled(0);
    const shownRecipe = JSON.parse((await page.locator('pre.recipe-json').textContent()) ?? '') as Record<string, unknown>;
    const api = await fetch(`${svc.base}/v1/datasets/words/samples/${position}/augmented/audio.wav`, {
      method: 'POST',
      headers: { ...admin, 'content-type': 'application/json' },
      body: JSON.stringify({ subset: 'training', seed: 0, augmentation: shownRecipe }),
    });
    assert.equal(api.status, 200);
    assert.equal(await page.locator('.transform').getAttribute('data-transform'), api.headers.get('x-audiofeed-transform'));
    assert.match((await page.locator('.transform').textContent()) ?? '', /^Drawn \(seed 0\): offset [\d.]+, loudness [\d.]+, speed [\d.]+, pitch -?\d+ semitones, /);
    await screenshot(page, 'dashboard-augmentation.png', true);

    // A mistake in the recipe: the problem's title and detail, and the setting marked.
    await page.locator('#aug-pitch_range-min').fill('5');
    await page.locator('#aug-pitch_range-max').fill('2');
    await page.getByRole('button', { name: 'Preview' }).click();
    await errors.getByText('Invalid settings').waitFor(WAIT);
    await waitUntil(page, `document.querySelector('.augment-form .form-status').textContent === 'No preview — Invalid settings: pitch_range: min 5 is greater than max 2'`, 'the problem beside the form');
    assert.equal(await page.locator('fieldset[data-setting="pitch_range"]').getAttribute('class'), 'range invalid');
    assert.equal(await page.locator('#aug-pitch_range-min').getAttribute('aria-invalid'), 'true');
    await page.locator('#aug-pitch_range-min').fill('-1');
    await page.locator('#aug-seed').fill('41');
    await page.getByRole('button', { name: 'Preview' }).click();
    await settled(41);
    assert.equal(await page.locator('fieldset.invalid').count(), 0);
    await checkAccessibilityBasics(page, ['.augment-form legend', '.transform', 'button[data-action="new-seed"]']);

    // Delete: two steps, the id typed; then the list no longer has it.
    await nav.getByRole('link', { name: 'Manage' }).click();
    await expectSection(page, 'manage');
    await page.getByRole('button', { name: 'Delete dataset…' }).click();
    const confirm = page.locator('button[data-action="delete-confirm"]');
    assert.equal(await confirm.isDisabled(), true);
    await page.getByLabel('Type words to confirm').fill('word');
    assert.equal(await confirm.isDisabled(), true);
    await page.getByLabel('Type words to confirm').fill('words');
    await eventually(page, async () => assert.equal(await confirm.isDisabled(), false), 'the delete button to enable');
    await confirm.click();
    await waitUntil(page, `location.hash === '#/'`, 'the list after the delete');
    await page.getByText('Dataset words was deleted.').waitFor(WAIT);
    // The list is read again (the one on screen before still had the dataset).
    await page.locator('a[data-dataset="words"]').waitFor({ ...WAIT, state: 'detached' });
    await page.getByRole('link', { name: 'Show dataset corpus-mini' }).waitFor(WAIT);
    assert.equal((await fetch(`${svc.base}/v1/datasets/words`, { headers: admin })).status, 404);
    assert.ok(fs.existsSync(path.join(words, 'yes')), 'a directory source keeps its files');

    // Register an upload of a folder (its class directories become the dataset). The form is
    // still open from the first registration.
    assert.notEqual(await page.locator('#register').getAttribute('open'), null);
    await page.getByLabel('Upload a folder or an archive').check();
    await page.locator('#register-folder').setInputFiles(words);
    await page.getByLabel('Classes', { exact: true }).fill(CLASSES.join(', '));
    await page.getByLabel('Dataset id (optional)').fill('uploaded');
    await page.getByLabel('Validation split (optional)').fill('0.2');
    await page.getByRole('button', { name: 'Register' }).click();
    await page.getByRole('heading', { name: 'Dataset uploaded' }).waitFor(WAIT);
    const up = (await (await fetch(`${svc.base}/v1/datasets/uploaded`, { headers: admin })).json()) as { source: { type: string }; class_counts: Record<string, Record<string, number>> };
    assert.equal(up.source.type, 'upload');
    assert.deepEqual(up.class_counts, registered.class_counts, 'the same clips as the directory it was uploaded from');

    // And one archive (tar.gz of the class directories).
    const chunks: Buffer[] = [];
    for await (const c of tarCreate({ cwd: words, gzip: true, portable: true }, fs.readdirSync(words)) as unknown as AsyncIterable<Buffer>) chunks.push(c);
    await page.getByRole('link', { name: '← All datasets' }).first().click();
    await page.getByRole('link', { name: 'Show dataset uploaded' }).waitFor(WAIT);
    await page.getByLabel('Upload a folder or an archive').check();
    await page.locator('#register-archive').setInputFiles({ name: 'words.tar.gz', mimeType: 'application/gzip', buffer: Buffer.concat(chunks) });
    await page.getByLabel('Classes', { exact: true }).fill(CLASSES.join(', '));
    await page.getByLabel('Dataset id (optional)').fill('archived');
    await page.getByLabel('Validation split (optional)').fill('0.2');
    await page.getByRole('button', { name: 'Register' }).click();
    await page.getByRole('heading', { name: 'Dataset archived' }).waitFor(WAIT);
    const archived = (await (await fetch(`${svc.base}/v1/datasets/archived`, { headers: admin })).json()) as typeof up;
    assert.equal(archived.source.type, 'upload');
    assert.deepEqual(archived.class_counts, registered.class_counts);
    assert.equal(await errors.locator('.error').count(), 0, (await errors.textContent()) ?? '');
    assert.deepEqual(b.offLoopback, []);
    assert.deepEqual(b.pageErrors, []);
  });
});
