/**
 * One DSP thread of the API's pool (jobs/dsp-pool.ts): runs one task at a time
 * (src/services/features/dsp-tasks.ts) with its own frontend backend and posts the result, or the
 * error as data. The pool stops the thread (terminate) when a task runs past the deadline.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { selectFrontendBackend, type FrontendBackendPreference } from '../src/core/frontend/backend.ts';
import { runDspTask, serializeDspError, type DspTask } from '../src/services/features/dsp-tasks.ts';

const { frontendBackend } = workerData as { frontendBackend: FrontendBackendPreference };
// The API process already logged why the addon is missing ('auto'); 'native' without it fails here as there.
const frontend = selectFrontendBackend(frontendBackend, () => {});
const port = parentPort!;

port.on('message', (msg: { id: number; task: DspTask }) => {
  void runDspTask(msg.task, frontend).then(
    ({ value, transfer }) => port.postMessage({ id: msg.id, ok: true, value }, transfer),
    (err: unknown) => port.postMessage({ id: msg.id, ok: false, error: serializeDspError(err) }),
  );
});
port.postMessage({ ready: true, frontend: frontend.name });
