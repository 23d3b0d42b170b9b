/** The command line's own failures and output streams, shared by its commands. */

/** Wrong command line: exit 2. */
export class UsageError extends Error {}
/** The input cannot be used (missing file, bad JSON, ...): exit 1. */
export class InputError extends Error {}

/** Ctrl-C or SIGTERM during a command that cleans up after itself: exit 130. */
export class InterruptedError extends Error {}

export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}
