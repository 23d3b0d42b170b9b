/**
 * The manage section of a dataset: load or unload each subset (POST …/load, …/unload with
 * {"subset": …}) and delete the dataset (DELETE /v1/datasets/{id}, optionally ?purge=true)
 * after a confirmation step: the user types the dataset id, and only then is the Delete
 * button enabled. These are admin operations: with API_TOKENS the token must have the
 * admin scope (a 403 asks for one, errors.ts). Problems are shown with title and detail,
 * in the alert region and beside the control.
 */
import { ApiError, api, postJson } from './api.ts';
import { append, h } from './dom.ts';
import { showError } from './errors.ts';
import { LOADABLE, type Dataset } from './types.ts';

const enc = encodeURIComponent;

export interface ManageCallbacks {
  /** A load or unload answered with the dataset as it is now. */
  changed(rec: Dataset, message: string): void;
  deleted(id: string): void;
}

function loadedOf(rec: Dataset): string[] {
  return rec.loaded_subsets ?? Object.keys(rec.class_counts);
}

export class ManageSection {
  private readonly status: HTMLElement;
  private readonly buttons: HTMLButtonElement[] = [];

  constructor(
    private readonly dataset: Dataset,
    readonly root: HTMLElement,
    private readonly callbacks: ManageCallbacks,
  ) {
    const rec = dataset;
    const loaded = loadedOf(rec);
    this.status = h('p', { class: 'form-status', role: 'status', 'aria-live': 'polite' });
    const rows = LOADABLE.map((subset) => {
      const isLoaded = loaded.includes(subset);
      const counts = rec.class_counts[subset];
      const samples = counts ? Object.values(counts).reduce((a, b) => a + b, 0) : null;
      const button = h(
        'button',
        { type: 'button', class: isLoaded ? 'secondary' : '', 'data-subset-action': isLoaded ? 'unload' : 'load', 'data-subset': subset },
        `${isLoaded ? 'Unload' : 'Load'} ${subset}`,
      );
      button.addEventListener('click', () => void this.loadOrUnload(isLoaded ? 'unload' : 'load', subset));
      this.buttons.push(button);
      return h(
        'tr',
        { 'data-subset': subset },
        h('th', { scope: 'row' }, subset),
        h('td', { 'data-state': isLoaded ? 'loaded' : 'unloaded' }, isLoaded ? `loaded${samples !== null ? `, ${samples} samples` : ''}` : 'not loaded'),
        h('td', {}, button),
      );
    });
    append(
      root,
      h('h4', {}, 'Subsets'),
      h('p', { class: 'note' }, 'Loading a subset computes its list from the index (MLTK load_dataset); unloading forgets it (its feature shards stay until collected).'),
      h(
        'table',
        { class: 'subsets' },
        h('caption', {}, `Subsets of ${rec.id}`),
        h('thead', {}, h('tr', {}, ...['Subset', 'State', 'Action'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, ...rows),
      ),
      this.status,
      this.deletePart(),
    );
  }

  private busy(on: boolean): void {
    for (const b of this.buttons) b.disabled = on;
  }

  private async loadOrUnload(action: 'load' | 'unload', subset: string): Promise<void> {
    const id = this.dataset.id;
    this.busy(true);
    this.status.textContent = `${action === 'load' ? 'Loading' : 'Unloading'} the ${subset} subset…`;
    try {
      const rec = await postJson<Dataset>(`/v1/datasets/${enc(id)}/${action}`, { subset });
      const message = `${subset[0]!.toUpperCase()}${subset.slice(1)} subset of ${id} ${action === 'load' ? 'loaded' : 'unloaded'}.`;
      this.status.textContent = message;
      this.callbacks.changed(rec, message);
    } catch (err) {
      this.status.textContent = failure(`The ${subset} subset was not ${action === 'load' ? 'loaded' : 'unloaded'}`, err);
      showError(err, `${action === 'load' ? 'loading' : 'unloading'} the ${subset} subset of ${id}`);
    } finally {
      this.busy(false);
    }
  }

  /** Delete, in two steps: the button opens a confirmation that needs the dataset id typed. */
  private deletePart(): HTMLElement {
    const id = this.dataset.id;
    const start = h('button', { type: 'button', class: 'danger-outline', 'data-action': 'delete-start' }, 'Delete dataset…');
    const confirmInput = h('input', { id: 'delete-confirm', type: 'text', autocomplete: 'off', spellcheck: 'false', 'aria-describedby': 'delete-warning' });
    const purge = h('input', { id: 'delete-purge', type: 'checkbox' });
    const confirm = h('button', { type: 'submit', class: 'danger', 'data-action': 'delete-confirm', disabled: true }, `Delete ${id}`);
    const cancel = h('button', { type: 'button', class: 'secondary', 'data-action': 'delete-cancel' }, 'Cancel');
    const status = h('p', { class: 'form-status', role: 'status', 'aria-live': 'polite' });
    const upload = this.dataset.source.type === 'upload';
    const box = h(
      'form',
      { class: 'confirm-delete', hidden: true, novalidate: true, 'aria-label': `Confirm deleting ${id}` },
      h(
        'p',
        { id: 'delete-warning', class: 'warning' },
        `Deleting ${id} removes its registration: clients streaming it get 410 Gone. `,
        upload ? 'Its uploaded files are removed too.' : 'The audio files in its directory stay.',
        ' Type its id to confirm.',
      ),
      h('div', { class: 'field' }, h('label', { for: 'delete-confirm' }, `Type ${id} to confirm`), confirmInput),
      h('div', { class: 'field check' }, purge, h('label', { for: 'delete-purge' }, 'Also remove its artifacts (index files and lists kept by the service)')),
      h('div', { class: 'form-actions' }, confirm, cancel),
    );
    start.addEventListener('click', () => {
      box.hidden = false;
      start.hidden = true;
      confirmInput.focus();
    });
    cancel.addEventListener('click', () => {
      box.hidden = true;
      start.hidden = false;
      confirmInput.value = '';
      confirm.disabled = true;
      start.focus();
    });
    confirmInput.addEventListener('input', () => (confirm.disabled = confirmInput.value !== id));
    box.addEventListener('submit', (e) => {
      e.preventDefault();
      if (confirmInput.value !== id) return;
      void (async () => {
        confirm.disabled = true;
        status.textContent = `Deleting ${id}…`;
        try {
          await api(`/v1/datasets/${enc(id)}${purge.checked ? '?purge=true' : ''}`, { method: 'DELETE' });
          this.callbacks.deleted(id);
        } catch (err) {
          status.textContent = failure(`${id} was not deleted`, err);
          showError(err, `deleting ${id}`);
          confirm.disabled = confirmInput.value !== id;
        }
      })();
    });
    return h('div', { class: 'delete-part' }, h('h4', {}, 'Delete'), start, box, status);
  }
}

function failure(what: string, err: unknown): string {
  return err instanceof ApiError ? `${what} — ${err.title}: ${err.detail}` : `${what} (see the error above).`;
}
