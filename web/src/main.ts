/**
 * The audiofeed dashboard: the registered datasets with their status, and per dataset its
 * overview (properties, class-count chart, counts and weights per class, frontend
 * settings), featurization with live job progress, a sample grid (spectrograms and audio)
 * and the summary text, an augmentation preview, and the lifecycle: register (a directory
 * under a data root or an upload), load / unload subsets, delete. Every view has its own address (hash routes, router.ts), so a
 * reload or a shared link opens the same view and Back and Forward move between views.
 * Plain TypeScript and DOM.
 */
import { apiJson, getToken, setToken } from './api.ts';
import { DatasetView, SECTION_LABELS } from './dataset.ts';
import { append, byId, clear, h } from './dom.ts';
import { askForToken, clearErrors, showError } from './errors.ts';
import type { ManageCallbacks } from './manage.ts';
import { RegisterForm } from './register.ts';
import { datasetHash, parseRoute, type Route } from './router.ts';
import type { Dataset } from './types.ts';

const enc = encodeURIComponent;

let view: DatasetView | null = null;
/** Counts navigations, so a slow answer for a view the user already left is dropped. */
let navigation = 0;
/** The place on screen (the list, a dataset, a missing page): its alerts go when the user leaves it. */
let place: string | null = null;

function placeOf(r: Route): string {
  if (r.kind === 'dataset') return `dataset:${r.id}`;
  return r.kind === 'home' ? 'home' : `not-found:${r.path}`;
}

// ---------------------------------------------------------------- token

function setupTokenForm(): void {
  const form = byId<HTMLFormElement>('token-form');
  const input = byId<HTMLInputElement>('token-input');
  const status = byId('token-status');
  const describeToken = () => (status.textContent = getToken() ? 'A token is set for this tab.' : 'No token set.');
  describeToken();
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const token = input.value.trim();
    if (!token) {
      askForToken('Enter a token first.');
      return;
    }
    setToken(token);
    input.value = '';
    form.classList.remove('needs-token');
    describeToken();
    clearErrors();
    void reload();
  });
  byId('token-forget').addEventListener('click', () => {
    setToken(null);
    describeToken();
    void reload();
  });
}

// ---------------------------------------------------------------- dataset list

async function loadDatasets(): Promise<void> {
  const list = byId('dataset-list');
  list.setAttribute('aria-busy', 'true');
  try {
    // GET /v1/datasets is paginated: read every page (the largest the API allows).
    const datasets: Dataset[] = [];
    for (;;) {
      const page = await apiJson<{ datasets: Dataset[]; total: number }>(`/v1/datasets?limit=1000&offset=${datasets.length}`);
      datasets.push(...page.datasets);
      if (page.datasets.length === 0 || datasets.length >= page.total) break;
    }
    clear(list);
    if (datasets.length === 0) {
      append(list, h('p', {}, 'No dataset is registered yet: register one below (or with POST /v1/datasets, see docs/api.md).'));
      return;
    }
    const rows = datasets.map((d) =>
      h(
        'tr',
        {},
        h('th', { scope: 'row' }, h('a', { href: datasetHash(d.id), 'data-dataset': d.id, 'aria-label': `Show dataset ${d.id}` }, d.id)),
        h('td', {}, h('span', { class: `status status-${d.status}` }, d.status)),
        h('td', {}, d.loaded_subset ?? '—'),
        h('td', {}, String(d.audio_classes.length)),
        h('td', {}, `[${d.audio_input_shape.join(', ')}]`),
        h('td', {}, String(d.source.type ?? '—')),
        h('td', {}, h('a', { href: datasetHash(d.id, 'samples'), 'aria-label': `Samples of ${d.id}` }, 'Samples')),
      ),
    );
    append(
      list,
      h(
        'table',
        { class: 'datasets' },
        h('caption', {}, `${datasets.length} registered dataset${datasets.length === 1 ? '' : 's'}`),
        h(
          'thead',
          {},
          h('tr', {}, ...['Dataset', 'Status', 'Loaded subset', 'Classes', 'Input shape', 'Source', 'Samples'].map((c) => h('th', { scope: 'col' }, c))),
        ),
        h('tbody', {}, ...rows),
      ),
    );
  } catch (err) {
    clear(list);
    append(list, h('p', {}, 'The dataset list could not be loaded (see the error above).'));
    showError(err, 'listing the datasets');
  } finally {
    list.setAttribute('aria-busy', 'false');
  }
}

// ---------------------------------------------------------------- views

function closeView(): void {
  view?.close();
  view = null;
}

/** Says where the user is: the tab's title, and a polite announcement after a navigation. */
function announce(title: string, spoken: boolean): void {
  document.title = `${title} — audiofeed`;
  if (spoken) byId('route-status').textContent = title;
}

function showPanel(which: 'home' | 'dataset'): void {
  byId('home').hidden = which !== 'home';
  byId('dataset').hidden = which !== 'dataset';
}

function datasetPanel(...children: (Node | string)[]): HTMLElement {
  const panel = byId('dataset');
  clear(panel);
  append(panel, ...children);
  showPanel('dataset');
  return panel;
}

async function openDataset(id: string, mine: number): Promise<DatasetView | null> {
  closeView();
  datasetPanel(h('a', { href: '#/', class: 'back' }, '← All datasets'), h('h2', { id: 'dataset-heading', tabindex: '-1' }, `Dataset ${id}`), h('p', {}, 'Loading…'));
  const panel = byId('dataset');
  panel.setAttribute('aria-busy', 'true');
  let rec: Dataset;
  try {
    rec = await apiJson<Dataset>(`/v1/datasets/${enc(id)}`);
  } catch (err) {
    if (mine !== navigation) return null;
    panel.setAttribute('aria-busy', 'false');
    showError(err, `opening dataset ${id}`);
    panel.querySelector('p')!.textContent = `Dataset ${id} could not be opened (see the error above).`;
    return null;
  }
  if (mine !== navigation) return null;
  const v = new DatasetView(rec, manageCallbacks);
  view = v;
  datasetPanel(v.root);
  panel.setAttribute('aria-busy', 'false');
  byId('reload').addEventListener('click', () => {
    clearErrors();
    void reload();
  });
  return v;
}

/** What the manage section's operations do to the page. */
const manageCallbacks: ManageCallbacks = {
  changed(_rec, message) {
    byId('route-status').textContent = message;
    void reload();
  },
  deleted(id) {
    setHomeStatus(`Dataset ${id} was deleted.`);
    location.hash = '#/';
  },
};

/** A note above the dataset list (what the last register or delete did). */
function setHomeStatus(text: string): void {
  byId('home-status').textContent = text;
}

/**
 * Shows the view the address names. `moved`: the user navigated (a link, Back, Forward),
 * so the focus moves to the new view, unless it is on the section links themselves.
 */
async function route(moved: boolean): Promise<void> {
  const r: Route | null = parseRoute(location.hash);
  if (r === null) return; // an in-page anchor: the view stays
  const mine = ++navigation;
  // Alerts belong to the place they were raised in: another dataset or the list starts clean
  // (switching sections of one dataset keeps them).
  const here = placeOf(r);
  if (place !== null && here !== place) {
    clearErrors();
    if (place === 'home') setHomeStatus('');
  }
  place = here;
  if (r.kind === 'home') {
    closeView();
    showPanel('home');
    announce('Datasets', moved);
    if (moved) byId('datasets-heading').focus();
    await loadDatasets();
    return;
  }
  if (r.kind === 'not-found') {
    closeView();
    datasetPanel(
      h('h2', { id: 'dataset-heading', tabindex: '-1' }, 'No such page'),
      h('p', {}, `The dashboard has no page ${r.path}. `, h('a', { href: '#/' }, 'Show all datasets'), '.'),
    );
    announce('No such page', moved);
    return;
  }
  let v = view;
  const opened = !v || v.dataset.id !== r.id;
  if (opened) {
    v = await openDataset(r.id, mine);
    if (!v) return;
  }
  const tabsHadFocus = !!document.activeElement?.closest('nav.tabs');
  v!.show(r.section, r.filter);
  showPanel('dataset');
  announce(`${SECTION_LABELS[r.section]} · ${r.id}`, moved || opened);
  if (moved && !tabsHadFocus) (opened ? v!.heading : v!.sectionElement(r.section)).focus();
}

/** Reloads the view on screen from the API (after a token change or Reload). */
async function reload(): Promise<void> {
  closeView();
  await route(false);
}

function start(): void {
  setupTokenForm();
  const register = new RegisterForm((rec) => {
    setHomeStatus(`Dataset ${rec.id} was registered.`);
    location.hash = datasetHash(rec.id);
  });
  byId('register-area').append(register.root);
  byId('refresh').addEventListener('click', () => {
    clearErrors();
    void loadDatasets();
  });
  // The skip link moves the focus without touching the address (which names the view).
  byId('skip-link').addEventListener('click', (e) => {
    e.preventDefault();
    byId('main').focus();
  });
  window.addEventListener('hashchange', () => void route(true));
  void route(false);
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
