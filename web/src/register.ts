/**
 * Registering a dataset from the list page (POST /v1/datasets): a directory under one of
 * the service's data roots (GET /v1/info lists them), or an upload of a folder or of one
 * archive (multipart: the `settings` part first, then the files named by their paths in
 * the dataset, as routes/datasets/upload.ts takes them). The settings are the class list,
 * an optional id and validation split, and any other registration setting as JSON.
 * Problems are shown with their title and detail; a 401/403 asks for a token (errors.ts).
 */
import { ApiError, api, apiJson } from './api.ts';
import { append, clear, h } from './dom.ts';
import { showError } from './errors.ts';
import type { Dataset, Info } from './types.ts';

type SourceKind = 'directory' | 'upload';

/** `root` + `relative`, one slash between them ("" names the root itself). */
export function joinUnderRoot(root: string, relative: string): string {
  const rel = relative.trim().replace(/^\/+/, '').replace(/\/+$/, '');
  const base = root.replace(/\/+$/, '') || '/';
  return rel === '' ? base : `${base === '/' ? '' : base}/${rel}`;
}

/** A file's path inside the chosen folder (the folder's own name dropped): `yes/a.wav`. */
function pathInFolder(file: File): string {
  const rel = (file as File & { webkitRelativePath?: string }).webkitRelativePath || file.name;
  const parts = rel.split('/');
  return parts.length > 1 ? parts.slice(1).join('/') : rel;
}

function labelled(id: string, label: string, control: HTMLElement, help?: string): HTMLElement {
  if (help) control.setAttribute('aria-describedby', `${id}-help`);
  return h('div', { class: 'field' }, h('label', { for: id }, label), control, help ? h('p', { class: 'help', id: `${id}-help` }, help) : null);
}

export class RegisterForm {
  readonly root: HTMLElement;
  private readonly form: HTMLFormElement;
  private readonly rootSelect: HTMLSelectElement;
  private readonly pathInput: HTMLInputElement;
  private readonly folderInput: HTMLInputElement;
  private readonly archiveInput: HTMLInputElement;
  private readonly nameInput: HTMLInputElement;
  private readonly classesInput: HTMLInputElement;
  private readonly splitInput: HTMLInputElement;
  private readonly moreInput: HTMLTextAreaElement;
  private readonly status: HTMLElement;
  private readonly submit: HTMLButtonElement;
  private readonly directoryPart: HTMLElement;
  private readonly uploadPart: HTMLElement;
  private rootsLoaded = false;

  constructor(private readonly onRegistered: (rec: Dataset) => void) {
    this.rootSelect = h('select', { id: 'register-root' });
    this.pathInput = h('input', { id: 'register-path', type: 'text', spellcheck: 'false', autocomplete: 'off', placeholder: 'kws/my-words' });
    this.folderInput = h('input', { id: 'register-folder', type: 'file', multiple: true, webkitdirectory: true });
    this.archiveInput = h('input', { id: 'register-archive', type: 'file', accept: '.zip,.tar,.tgz,.tar.gz,application/zip,application/x-tar,application/gzip' });
    this.nameInput = h('input', { id: 'register-name', type: 'text', spellcheck: 'false', autocomplete: 'off', placeholder: 'from the directory name' });
    this.classesInput = h('input', { id: 'register-classes', type: 'text', spellcheck: 'false', autocomplete: 'off', required: true, placeholder: 'yes, no, _unknown_, _silence_' });
    this.splitInput = h('input', { id: 'register-split', type: 'number', min: 0, max: 0.99, step: 0.01, placeholder: '0.1' });
    this.moreInput = h('textarea', { id: 'register-more', rows: 3, spellcheck: 'false', placeholder: '{"batch_size": 32, "class_weights": "balanced"}' });
    this.status = h('p', { class: 'form-status', role: 'status', 'aria-live': 'polite' });
    this.submit = h('button', { type: 'submit' }, 'Register');

    const sourceChoice = h(
      'fieldset',
      { class: 'source-choice' },
      h('legend', {}, 'Source'),
      ...(
        [
          ['directory', 'A directory under a data root'],
          ['upload', 'Upload a folder or an archive'],
        ] as const
      ).map(([value, text]) =>
        h('span', { class: 'pill' }, h('input', { type: 'radio', name: 'register-source', id: `register-source-${value}`, value, checked: value === 'directory' }), h('label', { for: `register-source-${value}` }, text)),
      ),
    );
    this.directoryPart = h(
      'div',
      { class: 'source-part', 'data-source': 'directory' },
      labelled('register-root', 'Data root', this.rootSelect),
      labelled('register-path', 'Directory in the root', this.pathInput, 'One sub-directory per class, as MLTK expects (empty: the root itself).'),
    );
    this.uploadPart = h(
      'div',
      { class: 'source-part', 'data-source': 'upload', hidden: true },
      labelled('register-folder', 'Folder', this.folderInput, 'Its class sub-directories are uploaded with their WAV files.'),
      labelled('register-archive', 'or one archive', this.archiveInput, 'zip, tar or tar.gz holding the class directories.'),
    );
    this.form = h(
      'form',
      { class: 'register-form', novalidate: true, 'aria-labelledby': 'register-heading' },
      sourceChoice,
      this.directoryPart,
      this.uploadPart,
      h(
        'div',
        { class: 'register-settings' },
        labelled('register-classes', 'Classes', this.classesInput, 'Comma-separated, in label order (MLTK classes).'),
        labelled('register-name', 'Dataset id (optional)', this.nameInput),
        labelled('register-split', 'Validation split (optional)', this.splitInput),
      ),
      labelled('register-more', 'More settings (JSON, optional)', this.moreInput, 'Any other registration setting, e.g. frontend_settings or augmentation (see docs/settings.md).'),
      h('div', { class: 'form-actions' }, this.submit, this.status),
    );
    this.root = h('details', { class: 'register', id: 'register' }, h('summary', {}, h('h3', { id: 'register-heading', class: 'inline-heading' }, 'Register a dataset')), this.form);

    for (const radio of sourceChoice.querySelectorAll('input')) radio.addEventListener('change', () => this.showSource());
    this.root.addEventListener('toggle', () => {
      if ((this.root as HTMLDetailsElement).open) void this.loadRoots();
    });
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      void this.register();
    });
  }

  private source(): SourceKind {
    return (this.form.querySelector<HTMLInputElement>('input[name="register-source"]:checked')?.value as SourceKind) ?? 'directory';
  }

  private showSource(): void {
    const kind = this.source();
    this.directoryPart.hidden = kind !== 'directory';
    this.uploadPart.hidden = kind !== 'upload';
  }

  /** The data roots from /v1/info (once; again after a failure). */
  private async loadRoots(): Promise<void> {
    if (this.rootsLoaded) return;
    try {
      const info = await apiJson<Info>('/v1/info');
      clear(this.rootSelect);
      for (const r of info.data_roots) append(this.rootSelect, h('option', { value: r }, r));
      this.rootsLoaded = true;
    } catch (err) {
      showError(err, 'reading the data roots (GET /v1/info)');
    }
  }

  /** The registration settings of the form (throws ApiError 0 for JSON that is not an object). */
  private settings(): Record<string, unknown> {
    let more: Record<string, unknown> = {};
    const text = this.moreInput.value.trim();
    if (text) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (err) {
        throw new ApiError(0, 'Invalid JSON', `More settings: ${(err as Error).message}`, null);
      }
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ApiError(0, 'Invalid JSON', 'More settings must be a JSON object ({"name": value, …})', null);
      more = parsed as Record<string, unknown>;
    }
    const settings: Record<string, unknown> = { ...more };
    const classes = this.classesInput.value.split(',').map((c) => c.trim()).filter((c) => c !== '');
    if (classes.length > 0 || !('classes' in more)) settings.classes = classes;
    if (this.nameInput.value.trim()) settings.name = this.nameInput.value.trim();
    if (this.splitInput.value.trim()) settings.validation_split = Number(this.splitInput.value);
    return settings;
  }

  private request(settings: Record<string, unknown>): RequestInit {
    if (this.source() === 'directory') {
      const path = joinUnderRoot(this.rootSelect.value, this.pathInput.value);
      return {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ ...settings, source: { type: 'directory', path } }),
      };
    }
    const form = new FormData();
    form.append('settings', JSON.stringify(settings));
    const archive = this.archiveInput.files?.[0];
    const folder = [...(this.folderInput.files ?? [])];
    if (archive && folder.length > 0) throw new ApiError(0, 'Two uploads chosen', 'choose a folder or an archive, not both', null);
    if (archive) form.append('archive', archive, archive.name);
    else if (folder.length > 0) for (const f of folder) form.append('file', f, pathInFolder(f));
    else throw new ApiError(0, 'Nothing to upload', 'choose a folder or an archive to upload', null);
    return { method: 'POST', headers: { accept: 'application/json' }, body: form };
  }

  private async register(): Promise<void> {
    this.submit.disabled = true;
    this.status.textContent = this.source() === 'upload' ? 'Uploading and registering…' : 'Registering…';
    try {
      const res = await api('/v1/datasets', this.request(this.settings()));
      const rec = (await res.json()) as Dataset;
      this.status.textContent = `Registered ${rec.id}.`;
      this.form.reset();
      this.showSource();
      this.onRegistered(rec);
    } catch (err) {
      const e = err instanceof ApiError ? err : null;
      this.status.textContent = e ? `Not registered — ${e.title}: ${e.detail}` : 'Not registered (see the error above).';
      showError(err, 'registering a dataset');
    } finally {
      this.submit.disabled = false;
    }
  }
}
