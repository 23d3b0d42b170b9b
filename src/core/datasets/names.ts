/**
 * Names that reach an index file (`.index/<class>.txt`, one entry per line): class names,
 * directory entries, upload entries. A control character (C0, DEL, C1: a newline above
 * all) would split or corrupt a line, so such names are refused or skipped, and shown
 * escaped.
 */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

export function hasControlCharacter(name: string): boolean {
  return CONTROL.test(name);
}

/** The name as a JSON string literal: control characters visible (`"a\nb.wav"`). */
export function escapedName(name: string): string {
  return JSON.stringify(name).replace(/[\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
