/** The page's alert region (API errors with title, detail and status) and the token prompt. */
import { ApiError, getToken } from './api.ts';
import { byId, clear, h } from './dom.ts';

const MAX_ERRORS_SHOWN = 5;

export function describe(err: unknown): { title: string; detail: string; status: number | null } {
  if (err instanceof ApiError) return { title: err.title, detail: err.detail, status: err.status || null };
  return { title: 'Unexpected error', detail: err instanceof Error ? err.message : String(err), status: null };
}

export function isAbort(err: unknown): boolean {
  return (err as Error)?.name === 'AbortError';
}

/** Shows an API error in the page's alert region (title, detail, status) with a dismiss button. */
export function showError(err: unknown, context: string): void {
  if (isAbort(err)) return;
  const region = byId('errors');
  const { title, detail, status } = describe(err);
  const dismiss = h('button', { type: 'button', class: 'dismiss' }, 'Dismiss');
  const item = h(
    'div',
    { class: 'error' },
    h('p', { class: 'error-title' }, h('strong', {}, title), status ? ` (HTTP ${status})` : '', ` — ${context}`),
    h('p', { class: 'error-detail' }, detail),
    dismiss,
  );
  dismiss.addEventListener('click', () => {
    item.remove();
    byId('main').focus();
  });
  region.append(item);
  while (region.children.length > MAX_ERRORS_SHOWN) region.firstElementChild?.remove();
  if (err instanceof ApiError && err.status === 401) askForToken(getToken() ? 'The token was not accepted: enter a valid token.' : 'This service needs an API token: enter it here.');
  if (err instanceof ApiError && err.status === 403) askForToken('Your token does not allow this operation: use a token with a wider scope.');
}

export function clearErrors(): void {
  clear(byId('errors'));
}

export function askForToken(message: string): void {
  byId('token-status').textContent = message;
  byId('token-form').classList.add('needs-token');
  byId<HTMLInputElement>('token-input').focus();
}
