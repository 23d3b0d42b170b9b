/**
 * The samples section: a grid of sample cards (the spectrogram the model is fed and the
 * clip's audio) with the subset and the class as filters. The filter lives in the address
 * (#/datasets/{id}/samples?subset=…&class=…); changing it replaces the history entry, so
 * a shared link opens the same grid and Back leaves the section rather than stepping
 * through filter clicks. Previews are fetched a few at a time, in page order; changing
 * the filter aborts the fetches still running and frees the blob URLs of the old grid.
 */
import { ApiError, apiJson, blobUrl } from './api.ts';
import { append, clear, h } from './dom.ts';
import { describe, isAbort, showError } from './errors.ts';
import { datasetHash, type SampleFilter } from './router.ts';
import { SUBSETS, type Dataset, type SampleItem } from './types.ts';

const PER_CLASS = 4;
const PAGE = 20;
const FETCHES_IN_FLIGHT = 4;
const enc = encodeURIComponent;

/** One rendering of the grid: aborted (fetches) and freed (blob URLs) when the filter changes. */
class Generation {
  readonly abort = new AbortController();
  private readonly urls: string[] = [];
  constructor(parent: AbortSignal) {
    if (parent.aborted) this.abort.abort();
    else parent.addEventListener('abort', () => this.abort.abort(), { once: true });
  }
  get live(): boolean {
    return !this.abort.signal.aborted;
  }
  track(url: string): string {
    if (!this.live) {
      URL.revokeObjectURL(url);
      throw new DOMException('the grid was replaced', 'AbortError');
    }
    this.urls.push(url);
    return url;
  }
  close(): void {
    this.abort.abort();
    for (const u of this.urls) URL.revokeObjectURL(u);
  }
}

export class SamplesSection {
  readonly subsets: string[];
  private readonly items = new Map<string, Promise<SampleItem[]>>();
  private filter: { subset: string; cls: string | null } | null = null;
  private limit = PAGE;
  private gen: Generation | null = null;
  private readonly queue: (() => Promise<void>)[] = [];
  private running = 0;
  private readonly subsetSelect: HTMLSelectElement;
  private readonly classes: HTMLFieldSetElement;
  private readonly note: HTMLElement;
  private readonly status: HTMLElement;
  private readonly grid: HTMLElement;
  private readonly more: HTMLButtonElement;

  constructor(
    private readonly dataset: Dataset,
    private readonly signal: AbortSignal,
    readonly root: HTMLElement,
  ) {
    this.subsets = SUBSETS.filter((s) => dataset.class_counts[s]);
    this.subsetSelect = h('select', { id: 'samples-subset' }, ...this.subsets.map((s) => h('option', { value: s }, s)));
    this.classes = h('fieldset', { class: 'class-filter' }, h('legend', {}, 'Class'));
    this.note = h('p', { class: 'filter-note', role: 'status' });
    this.status = h('p', { class: 'grid-status', 'aria-live': 'polite' });
    this.grid = h('div', { class: 'samples', 'aria-live': 'off' });
    this.more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Show more');
    append(
      root,
      h(
        'div',
        { class: 'samples-toolbar' },
        h('div', { class: 'field' }, h('label', { for: 'samples-subset' }, 'Subset'), this.subsetSelect),
        this.classes,
      ),
      this.note,
      this.status,
      this.grid,
      this.more,
    );
    this.subsetSelect.addEventListener('change', () => this.choose({ subset: this.subsetSelect.value, cls: this.filter?.cls ?? null }));
    this.more.addEventListener('click', () => void this.showMore());
  }

  /** Shows the grid for a filter from the address (unknown subsets and classes fall back, with a note). */
  apply(wanted: SampleFilter): void {
    if (this.subsets.length === 0) return;
    const notes: string[] = [];
    let subset = wanted.subset ?? this.subsets[0]!;
    if (!this.subsets.includes(subset)) {
      notes.push(`No loaded subset ${JSON.stringify(subset)}: showing ${this.subsets[0]}.`);
      subset = this.subsets[0]!;
    }
    let cls = wanted.cls;
    if (cls !== null && !this.dataset.audio_classes.includes(cls)) {
      notes.push(`No class ${JSON.stringify(cls)} in this dataset: showing every class.`);
      cls = null;
    }
    this.note.textContent = notes.join(' ');
    // The first subset is the default: left out of the address.
    const canonical = datasetHash(this.dataset.id, 'samples', { subset: subset === this.subsets[0] ? null : subset, cls });
    if (canonical !== location.hash) history.replaceState(history.state, '', canonical);
    if (this.filter && this.filter.subset === subset && this.filter.cls === cls) return;
    this.filter = { subset, cls };
    void this.render();
  }

  /** A filter the user picked: recorded in the address (replacing the entry), then shown. */
  private choose(filter: { subset: string; cls: string | null }): void {
    this.apply({ subset: filter.subset, cls: filter.cls });
  }

  private itemsOf(subset: string): Promise<SampleItem[]> {
    let p = this.items.get(subset);
    if (!p) {
      p = apiJson<{ items: SampleItem[] }>(`/v1/datasets/${enc(this.dataset.id)}/samples?subset=${enc(subset)}&limit=10000`, { signal: this.signal }).then((r) => r.items);
      p.catch(() => this.items.delete(subset));
      this.items.set(subset, p);
    }
    return p;
  }

  private async render(): Promise<void> {
    const { subset, cls } = this.filter!;
    this.gen?.close();
    this.queue.length = 0;
    const gen = new Generation(this.signal);
    this.gen = gen;
    this.limit = PAGE;
    this.subsetSelect.value = subset;
    clear(this.grid);
    this.more.hidden = true;
    this.grid.setAttribute('aria-busy', 'true');
    this.status.textContent = 'Loading samples…';
    let items: SampleItem[];
    try {
      items = await this.itemsOf(subset);
    } catch (err) {
      if (gen.live) {
        this.status.textContent = 'The samples could not be listed (see the error above).';
        showError(err, `listing the ${subset} samples of ${this.dataset.id}`);
      }
      return;
    }
    if (!gen.live) return;
    this.renderClassFilter(items, subset, cls);
    this.grid.dataset.subset = subset;
    this.grid.dataset.class = cls ?? '';
    if (cls === null) {
      const shown = this.dataset.audio_classes.flatMap((c) => items.filter((it) => it.class === c).slice(0, PER_CLASS));
      this.status.textContent = `${shown.length} of ${items.length} ${subset} samples: the first ${PER_CLASS} of each class. Pick a class to see more of it.`;
      this.addCards(gen, subset, shown);
    } else {
      const mine = items.filter((it) => it.class === cls);
      this.addCards(gen, subset, mine.slice(0, this.limit));
      this.updateMore(subset, cls, mine.length);
    }
    this.grid.setAttribute('aria-busy', 'false');
  }

  private async showMore(): Promise<void> {
    const gen = this.gen;
    if (!gen || !this.filter?.cls) return;
    const { subset, cls } = this.filter;
    const mine = (await this.itemsOf(subset)).filter((it) => it.class === cls);
    if (gen !== this.gen) return;
    const from = this.limit;
    this.limit += PAGE;
    const added = this.addCards(gen, subset, mine.slice(from, this.limit));
    this.updateMore(subset, cls, mine.length);
    added[0]?.querySelector('audio')?.focus();
  }

  private updateMore(subset: string, cls: string, total: number): void {
    const shown = Math.min(this.limit, total);
    this.status.textContent = `${shown} of ${total} ${subset} samples of class ${cls}.`;
    this.more.hidden = shown >= total;
    this.more.textContent = `Show ${Math.min(PAGE, total - shown)} more`;
  }

  /** The class radios with their counts in `subset` (rebuilt only when the subset changes, so focus stays). */
  private renderClassFilter(items: SampleItem[], subset: string, cls: string | null): void {
    if (this.classes.dataset.subset === subset) {
      for (const input of this.classes.querySelectorAll('input')) input.checked = input.value === (cls ?? '');
      return;
    }
    const hadFocus = this.classes.contains(document.activeElement);
    clear(this.classes);
    this.classes.dataset.subset = subset;
    append(this.classes, h('legend', {}, 'Class'));
    const option = (value: string | null, text: string, count: number) => {
      const id = `class-filter-${value === null ? 'all' : this.dataset.audio_classes.indexOf(value)}`;
      const input = h('input', { type: 'radio', name: 'sample-class', id, value: value ?? '', checked: value === cls });
      input.addEventListener('change', () => {
        // The subset shown now: these radios may still be the previous subset's while its list loads.
        if (input.checked) this.choose({ subset: this.filter?.subset ?? subset, cls: value });
      });
      append(this.classes, h('span', { class: 'pill' }, input, h('label', { for: id }, text, ' ', h('span', { class: 'pill-count' }, String(count)))));
    };
    option(null, 'All classes', items.length);
    for (const c of this.dataset.audio_classes) option(c, c, items.filter((it) => it.class === c).length);
    if (hadFocus) this.classes.querySelector<HTMLInputElement>('input:checked')?.focus();
  }

  /** Appends cards and queues their previews; returns the cards. */
  private addCards(gen: Generation, subset: string, shown: SampleItem[]): HTMLElement[] {
    if (shown.length === 0 && this.grid.childElementCount === 0) append(this.grid, h('p', {}, 'No sample of this class in this subset.'));
    const id = this.dataset.id;
    return shown.map((it) => {
      const name = it.entry ?? 'generated silence';
      const img = h('img', {
        alt: `Spectrogram of ${subset} sample ${it.index}, class ${it.class} (${name})`,
        width: 406,
        height: 171,
        'data-sample': it.index,
      });
      const audio = h('audio', { controls: true, preload: 'metadata', 'aria-label': `Audio of ${subset} sample ${it.index}, class ${it.class}` });
      const note = h('p', { class: 'sample-note' });
      const card = h(
        'figure',
        { class: 'sample-card', 'data-sample': it.index, 'data-class': it.class },
        img,
        h(
          'figcaption',
          {},
          h('span', { class: 'class-tag' }, it.class),
          ' ',
          h('span', { class: 'sample-pos' }, `#${it.index}`),
          ' ',
          h('span', { class: 'sample-entry' }, name),
          ' ',
          h(
            'a',
            {
              class: 'augment-link',
              href: datasetHash(id, 'augmentation', { subset: subset === this.subsets[0] ? null : subset, cls: null, position: it.index }),
              'aria-label': `Augmentation preview of ${subset} sample ${it.index}`,
            },
            'Augment',
          ),
        ),
        audio,
        note,
      );
      append(this.grid, card);
      const base = `/v1/datasets/${enc(id)}/samples/${it.index}`;
      this.enqueue(async () => {
        if (!gen.live) return;
        const signal = gen.abort.signal;
        try {
          img.src = gen.track(await blobUrl(`${base}/spectrogram.png?subset=${enc(subset)}`, 'image/png', signal));
        } catch (err) {
          if (isAbort(err)) return;
          img.remove();
          const { title, detail } = describe(err);
          note.textContent = `No spectrogram — ${title}: ${detail}`;
          if (!(err instanceof ApiError) || err.status === 0 || err.status >= 500 || err.status === 401 || err.status === 403) showError(err, `loading a spectrogram of ${id}`);
        }
        if (!gen.live) return;
        try {
          audio.src = gen.track(await blobUrl(`${base}/audio.wav?subset=${enc(subset)}`, 'audio/wav', signal));
        } catch (err) {
          if (isAbort(err)) return;
          audio.remove();
          const { title, detail } = describe(err);
          note.textContent = `${note.textContent ? `${note.textContent} ` : ''}No audio — ${title}: ${detail}`;
          if (!(err instanceof ApiError) || err.status === 0 || err.status >= 500) showError(err, `loading the audio of a sample of ${id}`);
        }
      });
      return card;
    });
  }

  private enqueue(task: () => Promise<void>): void {
    this.queue.push(task);
    this.pump();
  }

  private pump(): void {
    while (this.running < FETCHES_IN_FLIGHT && this.queue.length > 0) {
      const task = this.queue.shift()!;
      this.running++;
      void task().finally(() => {
        this.running--;
        this.pump();
      });
    }
  }

  close(): void {
    this.gen?.close();
    this.queue.length = 0;
  }
}
