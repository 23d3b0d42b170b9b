/**
 * The API's DSP pool: the DspPort (src/services/ports.ts) over worker threads
 * (jobs/dsp-thread.ts), so a request's decode, resample, frontend and PNG never run on the
 * API's event loop.
 *
 * - At most `threads` threads, started when first needed, each running one job at a time;
 *   a job that finds every thread busy waits in a queue of at most `maxQueue` jobs, and one
 *   more is refused at once (DspBusyError: 503 with Retry-After).
 * - A job running longer than `deadlineMs` is rejected (DspDeadlineError, 503) and its
 *   thread terminated. The thread keeps its place in the pool until it has exited (a native
 *   call cannot be interrupted: V8 stops the thread when the call returns to JavaScript), so
 *   the bound on concurrent DSP holds; a new thread takes its place then.
 * - A thread that dies (an uncaught error, a crash) fails its job (DspUnavailableError) and
 *   is replaced by the next job that needs one.
 * - close() refuses new jobs, fails the queued ones and terminates every thread.
 * Idle threads are unref'd: they never keep a process alive by themselves.
 */
import { Worker } from 'node:worker_threads';
import type { FrontendBackendPreference } from '../src/core/frontend/backend.ts';
import {
  DspBusyError,
  DspDeadlineError,
  DspUnavailableError,
  reviveDspError,
  type DspResultOf,
  type DspTask,
  type SerializedDspError,
} from '../src/services/features/dsp-tasks.ts';
import type { DspPort, DspStats } from '../src/services/ports.ts';

export interface DspPoolOptions {
  threads: number;
  maxQueue: number;
  deadlineMs: number;
  frontendBackend: FrontendBackendPreference;
  log?: { warn(msg: string): void };
}

interface Job {
  task: DspTask;
  resolve(value: unknown): void;
  reject(err: Error): void;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  /** The job it runs (or will run once ready); null when idle. */
  job: Job | null;
  jobId: number;
  startedAt: number;
  timer: NodeJS.Timeout | undefined;
  /** Terminating (deadline, crash, close): takes no job, counts until it has exited. */
  stopping: boolean;
}

type ThreadMessage =
  | { ready: true; frontend: string }
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: SerializedDspError };

const ENTRY = new URL('./dsp-thread-entry.mjs', import.meta.url);

function describe(task: DspTask): string {
  switch (task.kind) {
    case 'clip-features':
      return task.file ? `the features of ${JSON.stringify(task.file)}` : 'the features of the uploaded clip';
    case 'sample-features':
      return `the features of ${task.input.entries[0] === null ? 'a silence sample' : JSON.stringify(task.input.entries[0])}`;
    case 'spectrogram-png':
      return `a ${task.height}x${task.width} spectrogram image`;
    case 'augmented-preview':
      return `the augmentation preview of ${task.input.entry === null ? 'a silence sample' : JSON.stringify(task.input.entry)}`;
  }
}

export class DspThreadPool implements DspPort {
  private readonly slots = new Set<Slot>();
  private readonly queue: Job[] = [];
  private nextId = 1;
  private closed = false;
  private deadlineExceeded = 0;
  private rejectedBusy = 0;
  /** Moving average of job run times (ms), for Retry-After. */
  private avgRunMs = 100;

  constructor(private readonly opts: DspPoolOptions) {
    if (!(opts.threads >= 1)) throw new RangeError('a DSP pool needs at least one thread');
  }

  run<T extends DspTask>(task: T): Promise<DspResultOf<T>> {
    return new Promise<DspResultOf<T>>((resolve, reject) => {
      if (this.closed) {
        reject(new DspUnavailableError('the DSP pool is closed: the service is shutting down'));
        return;
      }
      const job: Job = { task, resolve: resolve as (v: unknown) => void, reject };
      const slot = this.idleSlot() ?? (this.slots.size < this.opts.threads ? this.spawn() : null);
      if (slot) {
        this.assign(slot, job);
      } else if (this.queue.length >= this.opts.maxQueue) {
        this.rejectedBusy++;
        const inFlight = this.inFlight() + this.booting();
        const retryAfterS = Math.max(1, Math.ceil((this.avgRunMs * (this.queue.length + 1)) / this.opts.threads / 1000));
        reject(new DspBusyError(inFlight, this.queue.length, retryAfterS));
      } else {
        this.queue.push(job);
      }
    });
  }

  warm(): void {
    if (!this.closed && this.slots.size === 0) this.spawn();
  }

  stats(): DspStats {
    return {
      mode: 'threads',
      threads: this.opts.threads,
      started: this.slots.size,
      inFlight: this.inFlight(),
      queued: this.queue.length + this.booting(),
      deadlineExceeded: this.deadlineExceeded,
      rejectedBusy: this.rejectedBusy,
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(new DspUnavailableError('the service is shutting down'));
    await Promise.all(
      [...this.slots].map(async (slot) => {
        slot.stopping = true;
        this.settle(slot, (job) => job.reject(new DspUnavailableError('the service is shutting down')));
        await slot.worker.terminate();
      }),
    );
  }

  /** Jobs running on a thread (posted to it). */
  private inFlight(): number {
    let n = 0;
    for (const s of this.slots) if (s.job && s.ready) n++;
    return n;
  }

  /** Jobs waiting for their new thread to start. */
  private booting(): number {
    let n = 0;
    for (const s of this.slots) if (s.job && !s.ready) n++;
    return n;
  }

  private idleSlot(): Slot | null {
    for (const s of this.slots) if (!s.job && !s.stopping) return s;
    return null;
  }

  private spawn(): Slot {
    const worker = new Worker(ENTRY, { workerData: { frontendBackend: this.opts.frontendBackend } });
    const slot: Slot = { worker, ready: false, job: null, jobId: 0, startedAt: 0, timer: undefined, stopping: false };
    this.slots.add(slot);
    worker.on('message', (msg: ThreadMessage) => {
      if ('ready' in msg) {
        slot.ready = true;
        if (slot.job && !slot.stopping) this.post(slot);
        return;
      }
      if (msg.id !== slot.jobId || !slot.job) return; // a job already settled (cannot happen: one job per thread)
      const ran = performance.now() - slot.startedAt;
      this.avgRunMs = 0.8 * this.avgRunMs + 0.2 * ran;
      this.settle(slot, (job) => (msg.ok ? job.resolve(msg.value) : job.reject(reviveDspError(msg.error))));
      this.next(slot);
    });
    worker.on('error', (err) => {
      // An uncaught error ends the thread ('exit' follows).
      this.opts.log?.warn(`DSP thread failed: ${err.message}`);
      slot.stopping = true;
      this.settle(slot, (job) => job.reject(new DspUnavailableError(`the DSP thread computing this failed: ${err.message}`)));
    });
    worker.on('exit', () => {
      this.slots.delete(slot);
      slot.stopping = true;
      this.settle(slot, (job) => job.reject(new DspUnavailableError('the DSP thread computing this stopped')));
      // Its place is free: the next queued job gets a new thread.
      if (!this.closed && this.queue.length > 0 && this.slots.size < this.opts.threads) this.assign(this.spawn(), this.queue.shift()!);
    });
    worker.unref();
    return slot;
  }

  private assign(slot: Slot, job: Job): void {
    slot.job = job;
    slot.jobId = this.nextId++;
    slot.worker.ref();
    if (slot.ready) this.post(slot);
  }

  private post(slot: Slot): void {
    const job = slot.job!;
    slot.startedAt = performance.now();
    // The deadline counts the job's run on its thread (not the wait for a thread or the thread's start).
    slot.timer = setTimeout(() => {
      this.deadlineExceeded++;
      slot.stopping = true;
      this.settle(slot, (j) => j.reject(new DspDeadlineError(this.opts.deadlineMs, describe(j.task))));
      this.opts.log?.warn(`DSP job over its deadline (${this.opts.deadlineMs} ms): ${describe(job.task)}; terminating its thread`);
      void slot.worker.terminate();
    }, this.opts.deadlineMs);
    slot.worker.postMessage({ id: slot.jobId, task: job.task });
  }

  /** Ends the slot's job (if any) with `how`, once. */
  private settle(slot: Slot, how: (job: Job) => void): void {
    const job = slot.job;
    if (!job) return;
    slot.job = null;
    clearTimeout(slot.timer);
    slot.timer = undefined;
    if (!slot.stopping) slot.worker.unref();
    how(job);
  }

  /** The next queued job for a thread that finished one. */
  private next(slot: Slot): void {
    if (slot.stopping || this.closed) return;
    const job = this.queue.shift();
    if (job) this.assign(slot, job);
  }
}
