/**
 * Pagination of the collection routes (GET /v1/datasets, GET /v1/jobs): `limit` and
 * `offset` query parameters, the collection's `total` in the body, and a
 * `Link: <…>; rel="next"` header (RFC 8288) while there is more. The next link repeats
 * the request's other parameters (filters), so following it walks the same listing.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';

export const DEFAULT_PAGE_LIMIT = 100;
export const MAX_PAGE_LIMIT = 1000;
/** Far beyond any registry; keeps the number an integer Redis accepts. */
const MAX_OFFSET = 1_000_000_000;

/** The query fields of a paginated route (spread into its querystring schema). */
export const PageQueryFields = {
  limit: Type.Optional(
    Type.Integer({ minimum: 1, maximum: MAX_PAGE_LIMIT, default: DEFAULT_PAGE_LIMIT, description: `Items per page (default ${DEFAULT_PAGE_LIMIT}, at most ${MAX_PAGE_LIMIT})` }),
  ),
  offset: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_OFFSET, default: 0, description: 'Items to skip (default 0)' })),
};

export interface Page {
  offset: number;
  limit: number;
}

/** The page a validated query asks for (the schema filled the defaults). */
export function pageOf(query: { limit?: number; offset?: number }): Page {
  return { offset: query.offset ?? 0, limit: query.limit ?? DEFAULT_PAGE_LIMIT };
}

/** The URL of the next page, or null on the last one. */
export function nextPageUrl(req: FastifyRequest, page: Page, total: number): string | null {
  if (page.offset + page.limit >= total) return null;
  const [pathname, search = ''] = req.url.split('?', 2) as [string, string?];
  const q = new URLSearchParams(search);
  q.set('limit', String(page.limit));
  q.set('offset', String(page.offset + page.limit));
  return `${pathname}?${q}`;
}

/** Sets `Link: <next>; rel="next"` when there is a next page. */
export function linkNextPage(req: FastifyRequest, reply: FastifyReply, page: Page, total: number): void {
  const next = nextPageUrl(req, page, total);
  if (next !== null) reply.header('link', `<${next}>; rel="next"`);
}
