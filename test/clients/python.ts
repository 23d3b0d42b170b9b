/**
 * Python child processes for the tests of the Python client (clients/python).
 *
 * The interpreter is AUDIOFEED_PYTHON when set (CI sets it to a venv where the package is
 * installed with its extras, see .ci/run), else `python3` with the package's source tree on
 * PYTHONPATH, so a checkout runs the suite without installing anything but numpy.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { PROJECT_ROOT } from '../helpers/paths.ts';

export const PYTHON_PACKAGE = path.join(PROJECT_ROOT, 'clients', 'python');

export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

/** The interpreter that runs the package's tests, and the environment it needs. */
export function testPython(): { command: string; env: Record<string, string | undefined> } {
  const venv = process.env.AUDIOFEED_PYTHON;
  if (venv) return { command: venv, env: {} };
  const src = path.join(PYTHON_PACKAGE, 'src');
  const inherited = process.env.PYTHONPATH;
  return { command: 'python3', env: { PYTHONPATH: inherited ? `${src}${path.delimiter}${inherited}` : src } };
}

/**
 * `command ARGS` as a child process, stdout and stderr collected together, killed after
 * `timeoutMs`. Asynchronous on purpose: a service under test answers from this process's
 * event loop, so a synchronous spawn would deadlock. `env` entries set to undefined are
 * removed from the inherited environment.
 */
export function run(
  command: string,
  args: string[],
  opts: { cwd: string; env?: Record<string, string | undefined>; timeoutMs: number },
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1', TF_CPP_MIN_LOG_LEVEL: '2' };
    for (const [k, v] of Object.entries(opts.env ?? {})) {
      if (v === undefined) delete childEnv[k];
      else childEnv[k] = v;
    }
    const child = spawn(command, args, { cwd: opts.cwd, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, output });
    });
  });
}
