/** multipart/form-data requests through fastify's inject (uploads, POST /v1/features). */
import type { App } from '../../routes/app.ts';

/** POSTs `form` to `url` as multipart/form-data (its boundary in the content type), with `headers` beside. */
export async function injectForm(app: App, url: string, form: FormData, headers: Record<string, string> = {}) {
  const req = new Request('http://x/', { method: 'POST', body: form });
  return app.inject({
    method: 'POST',
    url,
    headers: { 'content-type': req.headers.get('content-type')!, ...headers },
    payload: Buffer.from(await req.arrayBuffer()),
  });
}
