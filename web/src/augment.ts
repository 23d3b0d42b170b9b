/**
 * The augmentation preview section: pick a clip (subset and position; the sample cards
 * link here) and a recipe (the ranges of the dataset's `augmentation` setting: offset,
 * loudness, speed, pitch, noise colours and factor; a seed), then hear the augmented clip
 * and see its spectrogram next to the original's. The server computes it with the code
 * the augmented epochs use (POST …/samples/{n}/augmented/audio.wav and …/spectrogram.png);
 * the same seed and recipe give the same clip. The clip lives in the address
 * (#/datasets/{id}/augmentation?subset=…&n=…, the entry replaced as the filter's is).
 * Problems in the recipe come back one per mistake and mark the setting they name.
 */
import { ApiError, apiJson, blobUrl, postForBlob } from './api.ts';
import { append, clear, h } from './dom.ts';
import { describe, isAbort, showError } from './errors.ts';
import { datasetHash, type SampleFilter } from './router.ts';
import { NOISE_COLORS, SUBSETS, type Dataset, type SampleItem } from './types.ts';

const enc = encodeURIComponent;

/** The ranges the form edits, in MLTK's names. */
const RANGES = [
  ['offset_range', 'Offset', 'Where the clip sits in the window, 0 to 1 (empty: MLTK\'s default [0, 1]; [0, 0] keeps it in place)'],
  ['loudness_range', 'Loudness', 'Gain factor (empty: off)'],
  ['speed_range', 'Speed', 'Stretch factor; MLTK draws from round(lo + i·0.1, 1) without 1.0 (empty: off)'],
  ['pitch_range', 'Pitch', 'Semitones, drawn in [min, max) (empty: off)'],
  ['noise_color_range', 'Noise factor', 'Colour-noise factor (empty: no colour noise)'],
] as const;
type RangeName = (typeof RANGES)[number][0];

/** The other augmentation settings a dataset's recipe may hold: kept as they are. */
const KEPT = ['noise_color_level', 'bg_noise_range', 'bg_noise_dir', 'bg_noise_mode', 'vtlp_range'] as const;

/** A recipe to start from when the dataset has none. */
const EXAMPLE: Record<string, unknown> = {
  offset_range: [0, 1],
  loudness_range: [0.5, 1.5],
  speed_range: [0.9, 1.2],
  pitch_range: [-2, 3],
  noise_colors: 'all',
  noise_color_range: [0.02, 0.1],
};

interface Side {
  img: HTMLImageElement;
  audio: HTMLAudioElement;
  note: HTMLElement;
}

export class AugmentSection {
  readonly subsets: string[];
  private readonly inputs = new Map<RangeName, [HTMLInputElement, HTMLInputElement]>();
  private readonly fieldsets = new Map<string, HTMLElement>();
  private readonly colours: HTMLInputElement[] = [];
  private readonly subsetSelect: HTMLSelectElement;
  private readonly positionInput: HTMLInputElement;
  private readonly seedInput: HTMLInputElement;
  private readonly clipNote: HTMLElement;
  private readonly status: HTMLElement;
  private readonly json: HTMLElement;
  private readonly original: Side;
  private readonly augmented: Side;
  private readonly transform: HTMLElement;
  private readonly previewButton: HTMLButtonElement;
  private kept: Record<string, unknown> = {};
  private urls: string[] = [];
  private run: AbortController | null = null;
  private shown: string | null = null;

  constructor(
    private readonly dataset: Dataset,
    private readonly signal: AbortSignal,
    readonly root: HTMLElement,
  ) {
    this.subsets = SUBSETS.filter((s) => dataset.class_counts[s]);
    this.subsetSelect = h('select', { id: 'aug-subset' }, ...this.subsets.map((s) => h('option', { value: s }, s)));
    this.positionInput = h('input', { id: 'aug-position', type: 'number', min: 0, step: 1, value: 0 });
    this.seedInput = h('input', { id: 'aug-seed', type: 'number', min: 0, max: 4294967295, step: 1, value: 0 });
    this.clipNote = h('p', { class: 'clip-note', 'aria-live': 'polite' });
    this.status = h('p', { class: 'form-status', role: 'status', 'aria-live': 'polite' });
    this.json = h('pre', { class: 'recipe-json', tabindex: '0', 'aria-label': 'The recipe as JSON' });
    this.transform = h('p', { class: 'transform', 'data-transform': '' });
    this.previewButton = h('button', { type: 'submit' }, 'Preview');
    const newSeed = h('button', { type: 'button', class: 'secondary', 'data-action': 'new-seed' }, 'Another seed');
    const reset = h('button', { type: 'button', class: 'secondary', 'data-action': 'reset-recipe' }, dataset.settings.augmentation ? "The dataset's recipe" : 'Example recipe');

    const rangeRows = RANGES.map(([name, label, help]) => {
      const lo = h('input', { id: `aug-${name}-min`, type: 'number', step: 'any', 'data-range': name, 'data-bound': 'min', 'aria-describedby': `aug-${name}-help` });
      const hi = h('input', { id: `aug-${name}-max`, type: 'number', step: 'any', 'data-range': name, 'data-bound': 'max', 'aria-describedby': `aug-${name}-help` });
      this.inputs.set(name, [lo, hi]);
      const fs = h(
        'fieldset',
        { class: 'range', 'data-setting': name },
        h('legend', {}, `${label} `, h('code', {}, name)),
        h('label', { for: lo.id }, 'min'),
        lo,
        h('label', { for: hi.id }, 'max'),
        hi,
        h('p', { class: 'help', id: `aug-${name}-help` }, help),
      );
      this.fieldsets.set(name, fs);
      return fs;
    });
    const colourSet = h(
      'fieldset',
      { class: 'colours', 'data-setting': 'noise_colors' },
      h('legend', {}, 'Noise colours ', h('code', {}, 'noise_colors')),
      ...NOISE_COLORS.map((c) => {
        const box = h('input', { type: 'checkbox', id: `aug-colour-${c}`, value: c });
        this.colours.push(box);
        return h('span', { class: 'pill' }, box, h('label', { for: box.id }, c));
      }),
    );
    this.fieldsets.set('noise_colors', colourSet);

    const form = h(
      'form',
      { class: 'augment-form', novalidate: true, 'aria-label': 'Clip and recipe' },
      h(
        'div',
        { class: 'clip-pick' },
        h('div', { class: 'field' }, h('label', { for: 'aug-subset' }, 'Subset'), this.subsetSelect),
        h('div', { class: 'field' }, h('label', { for: 'aug-position' }, 'Sample position'), this.positionInput),
        h('div', { class: 'field' }, h('label', { for: 'aug-seed' }, 'Seed'), this.seedInput),
        this.clipNote,
      ),
      h('div', { class: 'recipe' }, ...rangeRows, colourSet),
      h('div', { class: 'form-actions' }, this.previewButton, newSeed, reset, this.status),
      h('details', { class: 'recipe-details' }, h('summary', {}, 'Recipe as JSON (the augmentation setting)'), this.json),
    );
    const side = (what: string): Side => ({
      img: h('img', { alt: `Spectrogram, ${what}`, width: 406, height: 171, 'data-side': what }),
      audio: h('audio', { controls: true, preload: 'metadata', 'aria-label': `Audio, ${what}`, 'data-side': what }),
      note: h('p', { class: 'sample-note' }),
    });
    this.original = side('original');
    this.augmented = side('augmented');
    const figure = (title: string, s: Side, extra?: HTMLElement) =>
      h('figure', { class: 'sample-card preview-card', 'data-side': s.img.dataset.side }, h('figcaption', {}, h('strong', {}, title)), s.img, s.audio, extra ?? null, s.note);
    append(
      root,
      h('p', { class: 'note' }, 'Hear and see what a recipe does to one clip, computed by the code the augmented epochs use. The same seed and recipe give the same clip.'),
      form,
      h('div', { class: 'preview-pair' }, figure('Original', this.original), figure('Augmented', this.augmented, this.transform)),
    );

    this.setRecipe((dataset.settings.augmentation as Record<string, unknown> | null | undefined) ?? EXAMPLE);
    form.addEventListener('input', () => this.showJson());
    form.addEventListener('change', () => this.showJson());
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.choose();
    });
    newSeed.addEventListener('click', () => {
      this.seedInput.value = String(Math.floor(Math.random() * 2 ** 32));
      this.choose();
    });
    reset.addEventListener('click', () => {
      this.setRecipe((dataset.settings.augmentation as Record<string, unknown> | null | undefined) ?? EXAMPLE);
      this.choose();
    });
  }

  /** Fills the form from a recipe (the dataset's resolved setting or the example). */
  private setRecipe(recipe: Record<string, unknown>): void {
    for (const [name, [lo, hi]] of this.inputs) {
      const r = recipe[name];
      const pair = Array.isArray(r) && r.length === 2 ? r : null;
      lo.value = pair ? String(pair[0]) : '';
      hi.value = pair ? String(pair[1]) : '';
    }
    const colours = recipe.noise_colors;
    const on = colours === 'all' ? [...NOISE_COLORS] : Array.isArray(colours) ? colours.map((c) => String(c).toLowerCase()) : [];
    for (const box of this.colours) box.checked = on.includes(box.value);
    this.kept = {};
    for (const k of KEPT) if (recipe[k] !== undefined && recipe[k] !== null) this.kept[k] = recipe[k];
    this.showJson();
  }

  /** The recipe the form describes (empty ranges: off; an empty offset: the default). */
  recipe(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [name, [lo, hi]] of this.inputs) {
      const a = lo.value.trim();
      const b = hi.value.trim();
      if (a === '' && b === '') {
        if (name !== 'offset_range') out[name] = null;
        continue;
      }
      // A half-filled pair is sent as it is: the server names the mistake.
      out[name] = [a === '' ? null : Number(a), b === '' ? null : Number(b)];
    }
    const colours = this.colours.filter((b) => b.checked).map((b) => b.value);
    out.noise_colors = colours.length === 0 ? null : colours.length === NOISE_COLORS.length ? 'all' : colours;
    return { ...out, ...this.kept };
  }

  private seed(): number {
    const n = Number(this.seedInput.value);
    return this.seedInput.value.trim() === '' ? 0 : n;
  }

  private showJson(): void {
    this.json.textContent = JSON.stringify(this.recipe(), null, 1).replace(/\n\s*/g, ' ');
  }

  /** Shows the clip the address names (or the first of the first subset) and previews it. */
  apply(filter: SampleFilter): void {
    if (this.subsets.length === 0) return;
    const subset = filter.subset && this.subsets.includes(filter.subset) ? filter.subset : this.subsets[0]!;
    const position = typeof filter.position === 'number' ? filter.position : Number(this.positionInput.value) || 0;
    this.subsetSelect.value = subset;
    this.positionInput.value = String(position);
    this.record(subset, position);
    const key = `${subset}/${position}`;
    if (this.shown === key) return;
    void this.preview();
  }

  /** The user asked for a preview: the clip is recorded in the address (replacing the entry). */
  private choose(): void {
    this.record(this.subsetSelect.value, Number(this.positionInput.value) || 0);
    void this.preview();
  }

  private record(subset: string, position: number): void {
    const canonical = datasetHash(this.dataset.id, 'augmentation', { subset: subset === this.subsets[0] ? null : subset, cls: null, position });
    if (canonical !== location.hash) history.replaceState(history.state, '', canonical);
  }

  private clearMarks(): void {
    for (const fs of this.fieldsets.values()) {
      fs.classList.remove('invalid');
      for (const i of fs.querySelectorAll('input')) i.removeAttribute('aria-invalid');
    }
    this.positionInput.removeAttribute('aria-invalid');
    this.seedInput.removeAttribute('aria-invalid');
  }

  /** Marks the setting a problem names (`field` of a 422, the pointer of a 400's error). */
  private mark(err: unknown): void {
    if (!(err instanceof ApiError)) return;
    const errors = Array.isArray(err.body.errors) ? (err.body.errors as { pointer?: string }[]) : [];
    const names = [typeof err.body.field === 'string' ? err.body.field : null, ...errors.map((e) => e.pointer ?? null)]
      .filter((x): x is string => !!x)
      .map((x) => x.replace(/^\/?(augmentation[./])?/, '').split(/[./]/)[0]!);
    for (const name of names) {
      if (name === 'seed') this.seedInput.setAttribute('aria-invalid', 'true');
      const fs = this.fieldsets.get(name);
      if (!fs) continue;
      fs.classList.add('invalid');
      for (const i of fs.querySelectorAll('input')) i.setAttribute('aria-invalid', 'true');
    }
  }

  private freeUrls(): void {
    for (const u of this.urls) URL.revokeObjectURL(u);
    this.urls = [];
  }

  private async preview(): Promise<void> {
    this.run?.abort();
    const run = new AbortController();
    this.run = run;
    const stop = () => run.abort();
    this.signal.addEventListener('abort', stop, { once: true });
    const subset = this.subsetSelect.value;
    const position = Number(this.positionInput.value);
    const seed = this.seed();
    const recipe = this.recipe();
    const id = this.dataset.id;
    this.shown = `${subset}/${position}`;
    this.clearMarks();
    this.freeUrls();
    this.previewButton.disabled = true;
    this.root.setAttribute('aria-busy', 'true');
    this.status.textContent = 'Computing the preview…';
    for (const s of [this.original, this.augmented]) {
      s.img.removeAttribute('src');
      s.audio.removeAttribute('src');
      s.note.textContent = '';
    }
    this.transform.textContent = '';
    this.transform.dataset.transform = '';
    const base = `/v1/datasets/${enc(id)}/samples/${position}`;
    const body = { subset, seed, augmentation: recipe };
    const track = (url: string) => {
      if (run.signal.aborted) {
        URL.revokeObjectURL(url);
        throw new DOMException('replaced', 'AbortError');
      }
      this.urls.push(url);
      return url;
    };
    try {
      const item = await apiJson<{ items: SampleItem[]; total: number }>(`/v1/datasets/${enc(id)}/samples?subset=${enc(subset)}&offset=${position}&limit=1`, { signal: run.signal });
      const it = item.items[0];
      if (!it) {
        this.positionInput.setAttribute('aria-invalid', 'true');
        throw new ApiError(404, 'Not found', `the ${subset} subset has ${item.total} samples (positions 0 to ${item.total - 1}); there is no sample ${position}`, null);
      }
      this.clipNote.textContent = `Sample ${position} of ${item.total}: class ${it.class}, ${it.entry ?? 'generated silence'}.`;
      const wav = await postForBlob(`${base}/augmented/audio.wav`, body, 'audio/wav', run.signal);
      this.augmented.audio.src = track(wav.url);
      this.showTransform(wav.headers.get('x-audiofeed-transform'), seed);
      if (this.dataset.frontend_enabled) {
        const png = await postForBlob(`${base}/augmented/spectrogram.png`, body, 'image/png', run.signal);
        this.augmented.img.src = track(png.url);
      } else {
        this.augmented.img.hidden = true;
        this.augmented.note.textContent = 'The frontend is disabled: samples are audio, not spectrograms.';
      }
      this.status.textContent = `Preview of ${subset} sample ${position}, seed ${seed}.`;
      this.root.dataset.previewed = `${subset}/${position}/${seed}`;
    } catch (err) {
      if (isAbort(err) || run.signal.aborted) return;
      this.mark(err);
      const { title, detail } = describe(err);
      this.status.textContent = `No preview — ${title}: ${detail}`;
      this.root.dataset.previewed = '';
      showError(err, `previewing augmentation of ${id} (${subset} sample ${position})`);
    } finally {
      this.signal.removeEventListener('abort', stop);
      if (this.run === run) {
        this.previewButton.disabled = false;
        this.root.setAttribute('aria-busy', 'false');
      }
    }
    if (run.signal.aborted || this.root.dataset.previewed === '') return;
    // The original beside it: the features and file the plain previews show.
    try {
      if (this.dataset.frontend_enabled) this.original.img.src = track(await blobUrl(`${base}/spectrogram.png?subset=${enc(subset)}`, 'image/png', run.signal));
      else this.original.img.hidden = true;
      this.original.audio.src = track(await blobUrl(`${base}/audio.wav?subset=${enc(subset)}`, 'audio/wav', run.signal));
    } catch (err) {
      if (isAbort(err) || run.signal.aborted) return;
      const { title, detail } = describe(err);
      this.original.note.textContent = `No original — ${title}: ${detail}`;
    }
  }

  private showTransform(header: string | null, seed: number): void {
    if (!header) return;
    this.transform.dataset.transform = header;
    try {
      const t = JSON.parse(header) as Record<string, number | string | null>;
      const round = (v: unknown) => (typeof v === 'number' ? String(Math.round(v * 1000) / 1000) : String(v));
      const parts = [
        `offset ${round(t.offset)}`,
        `loudness ${round(t.loudness)}`,
        `speed ${round(t.speed)}`,
        `pitch ${round(t.pitch)} semitones`,
        t.noise_color ? `${t.noise_color} noise × ${round(t.noise_factor)}` : 'no colour noise',
        t.bg_noise !== null && t.bg_noise !== undefined ? `background noise ${t.bg_noise} × ${round(t.bg_noise_factor)}` : null,
        t.vtlp !== 1 && t.vtlp !== 0 ? `VTLP ${round(t.vtlp)}` : null,
      ].filter(Boolean);
      clear(this.transform);
      append(this.transform, h('strong', {}, `Drawn (seed ${seed}): `), parts.join(', '), '.');
    } catch {
      this.transform.textContent = header;
    }
  }

  close(): void {
    this.run?.abort();
    this.freeUrls();
  }
}
