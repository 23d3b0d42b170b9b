/**
 * The dashboard's addresses: hash routes, so the page needs no server route of its own
 * (the server serves it at GET /) and the fragment never reaches the server or its logs.
 *
 *   #/                                       the dataset list
 *   #/datasets/{id}                          a dataset's overview
 *   #/datasets/{id}/{section}                featurization | samples | augmentation | summary | manage (overview too)
 *   #/datasets/{id}/samples?subset=…&class=… the samples grid with its subset and class filter
 *   #/datasets/{id}/augmentation?subset=…&n=… the augmentation preview of one clip
 *
 * Ids and class names are percent-encoded. Pure functions (no DOM), so they run in Node too.
 */
export const SECTIONS = ['overview', 'featurization', 'samples', 'augmentation', 'summary', 'manage'] as const;
export type Section = (typeof SECTIONS)[number];

export interface SampleFilter {
  subset: string | null;
  cls: string | null;
  /** The augmentation section only: the clip's position in `subset` (null: none chosen). */
  position?: number | null;
}

export type Route =
  | { kind: 'home' }
  | { kind: 'dataset'; id: string; section: Section; filter: SampleFilter }
  | { kind: 'not-found'; path: string };

const NO_FILTER: SampleFilter = { subset: null, cls: null };

function decode(part: string): string | null {
  try {
    return decodeURIComponent(part);
  } catch {
    return null;
  }
}

/** A clip position from the address: a non-negative integer, else none. */
function positionOf(text: string | null): number | null {
  return text !== null && /^\d{1,9}$/.test(text) ? Number(text) : null;
}

/**
 * The route a location hash names, or null when the hash is not a route (an in-page
 * anchor such as #main, which leaves the view as it is).
 */
export function parseRoute(hash: string): Route | null {
  const raw = hash.startsWith('#') ? hash.slice(1) : hash;
  if (raw === '' || raw === '/') return { kind: 'home' };
  if (!raw.startsWith('/')) return null;
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  const query = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
  const parts = path.split('/').slice(1);
  if (parts.at(-1) === '') parts.pop();
  if (parts[0] === 'datasets' && (parts.length === 2 || parts.length === 3)) {
    const id = decode(parts[1]!);
    const section = parts.length === 3 ? parts[2] : 'overview';
    if (id && (SECTIONS as readonly string[]).includes(section!)) {
      const filter =
        section === 'samples'
          ? { subset: query.get('subset') || null, cls: query.get('class') || null }
          : section === 'augmentation'
            ? { subset: query.get('subset') || null, cls: null, position: positionOf(query.get('n')) }
            : NO_FILTER;
      return { kind: 'dataset', id, section: section as Section, filter };
    }
  }
  if (parts.length === 1 && parts[0] === 'datasets') return { kind: 'home' };
  return { kind: 'not-found', path };
}

/** The hash of a route (the canonical form: the overview without its section, no empty filter). */
export function routeHash(route: Route): string {
  if (route.kind === 'home') return '#/';
  if (route.kind === 'not-found') return `#${route.path}`;
  let hash = `#/datasets/${encodeURIComponent(route.id)}`;
  if (route.section !== 'overview') hash += `/${route.section}`;
  if (route.section === 'samples' || route.section === 'augmentation') {
    const query = new URLSearchParams();
    if (route.filter.subset) query.set('subset', route.filter.subset);
    if (route.section === 'samples' && route.filter.cls) query.set('class', route.filter.cls);
    if (route.section === 'augmentation' && typeof route.filter.position === 'number') query.set('n', String(route.filter.position));
    const text = query.toString();
    if (text) hash += `?${text}`;
  }
  return hash;
}

export function datasetHash(id: string, section: Section = 'overview', filter: SampleFilter = NO_FILTER): string {
  return routeHash({ kind: 'dataset', id, section, filter });
}
