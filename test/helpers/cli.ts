/** The CLI (bin/audiofeed.js) as a child process in tests. */
import { execFile } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { main } from '../../cli/main.ts';
import { PROJECT_ROOT } from './paths.ts';

export const CLI_BIN = path.join(PROJECT_ROOT, 'bin', 'audiofeed.js');

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment of a child: no AUDIOFEED_* from the test's own environment leaks in. */
export function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.AUDIOFEED_URL;
  delete env.AUDIOFEED_TOKEN;
  return { ...env, ...extra };
}

/** Runs the CLI to its end (killed after 240 s, a backstop) in `cwd` (default: the temp directory). */
export function runCli(args: string[], opts: { env?: Record<string, string>; cwd?: string } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [CLI_BIN, ...args],
      { cwd: opts.cwd ?? os.tmpdir(), env: cliEnv(opts.env), timeout: 240_000, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') return reject(new Error(`${err.message}\nstdout: ${stdout}\nstderr: ${stderr}`));
        resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
      },
    );
  });
}

/** cli/main.ts's main() in this process with `env` as its environment, its output captured as text. */
export async function runCliInProcess(args: string[], env: Record<string, string>): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const sink = (write: (s: string) => void) => new Writable({ write: (chunk, _enc, cb) => (write(String(chunk)), cb()) });
  const code = await main(args, { stdout: sink((s) => (stdout += s)), stderr: sink((s) => (stderr += s)) }, env);
  return { code, stdout, stderr };
}
