/**
 * The DspPort on the calling thread: the tasks of ./dsp-tasks.ts run where they are asked
 * for. For DSP_THREADS=0 (debugging: one heavy clip then stalls the API's event loop) and
 * anything with no event loop to protect.
 */
import type { FrontendBackend } from '../../core/frontend/backend.ts';
import type { DspPort, DspStats } from '../ports.ts';
import { runDspTask, type DspResultOf, type DspTask } from './dsp-tasks.ts';

/**
 * Runs tasks on the calling thread: for the CLI (a process of its own, nothing else on its
 * event loop) and DSP_THREADS=0. No deadline (nothing can stop code running on this thread).
 */
export class InlineDsp implements DspPort {
  private inFlight = 0;
  constructor(private readonly frontend: FrontendBackend) {}

  async run<T extends DspTask>(task: T): Promise<DspResultOf<T>> {
    this.inFlight++;
    try {
      return (await runDspTask(task, this.frontend)).value as DspResultOf<T>;
    } finally {
      this.inFlight--;
    }
  }

  /** Nothing to start: tasks run on the calling thread. */
  warm(): void {}

  stats(): DspStats {
    return { mode: 'inline', threads: 0, started: 0, inFlight: this.inFlight, queued: 0, deadlineExceeded: 0, rejectedBusy: 0 };
  }

  async close(): Promise<void> {}
}
