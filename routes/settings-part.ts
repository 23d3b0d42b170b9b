/**
 * The `settings` part of a multipart request (upload registration, POST /v1/features),
 * however a client sends it: a text field (`-F 'settings={...}'`), a field typed
 * application/json (browsers' FormData with a Blob, requests' `files=`; @fastify/multipart
 * has parsed it already), or a file part (`-F settings=@settings.json`).
 */
import type { Multipart, MultipartFile, MultipartValue } from '@fastify/multipart';
import { BadRequestError, PayloadTooLargeError } from '../src/core/errors.ts';

/** Settings are a few hundred bytes; a file part named `settings` is read up to this. */
export const MAX_SETTINGS_PART_BYTES = 256 * 1024;

/** Whether `part` is the settings part (a field or a file named `settings`). */
export function isSettingsPart(part: Multipart): boolean {
  return part.fieldname === 'settings';
}

/**
 * The part's JSON value; `undefined` for an empty text (the caller decides whether settings
 * may be left out). Not JSON: 400 malformed-json; a file part over MAX_SETTINGS_PART_BYTES: 413.
 */
export async function readSettingsPart(part: Multipart): Promise<unknown> {
  let text: string;
  if (part.type === 'file') {
    const file = part as MultipartFile;
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of file.file as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_SETTINGS_PART_BYTES) {
        file.file.resume();
        throw new PayloadTooLargeError(`the settings part is larger than ${MAX_SETTINGS_PART_BYTES} bytes`, { limit: MAX_SETTINGS_PART_BYTES });
      }
      chunks.push(chunk);
    }
    text = Buffer.concat(chunks).toString('utf8');
  } else {
    const field = part as MultipartValue;
    // Typed application/json: parsed by the plugin (secure-json-parse, malformed JSON refused there).
    if (field.mimetype === 'application/json' && typeof field.value !== 'string') return field.value;
    text = String(field.value);
  }
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new BadRequestError('malformed-json', `the settings part is not valid JSON: ${(err as Error).message}`);
  }
}
