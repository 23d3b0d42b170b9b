/**
 * Where the frames of a batch stream end, found without decoding them: the arrays of an
 * `.npy` stream (consecutive .npy files) and the messages of an Arrow IPC stream. A
 * reader that writes a stream to disk (the CLI's `pull`) learns from it which bytes make
 * whole batches, and every frame's declared size is checked against a limit from its
 * header alone, before any of its data is held: a header that claims 10¹² elements is a
 * StreamFrameError, not an allocation.
 */
import { Message, MessageHeader } from 'apache-arrow';
import { readNpyHeader, type NpyHeader } from './npy.ts';

/** The stream is not what it claims to be (malformed, over a limit, or data after its end). */
export class StreamFrameError extends Error {}

export interface FrameLimits {
  /** Largest data (an .npy array's payload, an Arrow message body) accepted in one frame. */
  maxFrameBytes: number;
}

/** Largest header of a frame (an .npy header dict, an Arrow message's metadata). */
const MAX_HEADER_BYTES = 1 << 20;
const CONTINUATION = 0xffffffff;

export type Frame =
  | { kind: 'npy'; end: number; header: NpyHeader }
  | { kind: 'schema' | 'dictionary' | 'other'; end: number; message: Message }
  | { kind: 'record-batch'; end: number; message: Message; rows: number }
  | { kind: 'eos'; end: number };

/** A frame before its end is known. */
type Unended<F = Frame> = F extends Frame ? Omit<F, 'end'> : never;

/** A frame whose header has been read, waiting for the rest of its body. */
type Partial = { frame: Frame; remaining: number };

/**
 * Incremental framer: `push` the stream's bytes as they arrive, get back the frames they
 * complete, each with `end`, its offset just past its last byte in the whole stream.
 * Only headers are held; a body is counted as it passes, never buffered.
 */
export class StreamFramer {
  /** Bytes of the stream seen so far. */
  offset = 0;
  private head: Buffer = Buffer.alloc(0);
  private body: Partial | null = null;
  private ended = false;

  constructor(
    readonly format: 'npy' | 'arrow',
    private readonly limits: FrameLimits,
  ) {}

  /** True while the bytes so far end inside a frame. */
  get inFrame(): boolean {
    return this.head.length > 0 || this.body !== null;
  }

  push(chunk: Uint8Array): Frame[] {
    const frames: Frame[] = [];
    let rest = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    while (rest.length > 0) {
      if (this.ended) throw new StreamFrameError(`data after the end-of-stream marker (byte ${this.offset})`);
      if (this.body !== null) {
        const n = Math.min(this.body.remaining, rest.length);
        this.body.remaining -= n;
        this.offset += n;
        rest = rest.subarray(n);
        if (this.body.remaining === 0) {
          frames.push(this.body.frame);
          this.body = null;
        }
        continue;
      }
      // Header bytes: held until the header is complete.
      const start = this.offset - this.head.length;
      this.head = this.head.length === 0 ? Buffer.from(rest) : Buffer.concat([this.head, rest]);
      this.offset += rest.length;
      rest = Buffer.alloc(0);
      const parsed = this.format === 'npy' ? this.npyHeader(start) : this.arrowHeader(start);
      if (parsed === null) continue;
      // The bytes after the header belong to the body (and maybe to later frames): feed them again.
      const after = this.head.subarray(parsed.headerBytes);
      this.offset -= after.length;
      this.head = Buffer.alloc(0);
      rest = Buffer.from(after);
      const frame = { ...parsed.frame, end: start + parsed.headerBytes + parsed.bodyBytes } as Frame;
      if (parsed.bodyBytes === 0) {
        frames.push(frame);
        if (frame.kind === 'eos') this.ended = true;
      } else {
        this.body = { frame, remaining: parsed.bodyBytes };
      }
    }
    return frames;
  }

  private npyHeader(start: number): { frame: Unended; headerBytes: number; bodyBytes: number } | null {
    let header: NpyHeader | null;
    try {
      header = readNpyHeader(this.head, MAX_HEADER_BYTES);
    } catch (err) {
      throw new StreamFrameError(`malformed .npy array at byte ${start}: ${(err as Error).message}`);
    }
    if (header === null) return null;
    if (header.dataBytes > this.limits.maxFrameBytes) {
      throw new StreamFrameError(
        `an .npy array at byte ${start} declares shape ${JSON.stringify(header.shape)} ${header.dtype} (${header.dataBytes} bytes); the limit is ${this.limits.maxFrameBytes} bytes`,
      );
    }
    return { frame: { kind: 'npy', header }, headerBytes: header.dataStart, bodyBytes: header.dataBytes };
  }

  private arrowHeader(start: number): { frame: Unended; headerBytes: number; bodyBytes: number } | null {
    const h = this.head;
    if (h.length < 4) return null;
    // Current format: 0xFFFFFFFF then the metadata length; before Arrow 0.15, the length alone.
    const prefix = h.readUInt32LE(0) === CONTINUATION ? 8 : 4;
    if (h.length < prefix) return null;
    const metaLen = h.readInt32LE(prefix - 4);
    if (metaLen === 0) return { frame: { kind: 'eos' }, headerBytes: prefix, bodyBytes: 0 };
    if (metaLen < 0 || metaLen > MAX_HEADER_BYTES) {
      throw new StreamFrameError(`an Arrow message at byte ${start} declares ${metaLen} bytes of metadata; the limit is ${MAX_HEADER_BYTES}`);
    }
    if (h.length < prefix + metaLen) return null;
    let message: Message;
    try {
      message = Message.decode(h.subarray(prefix, prefix + metaLen));
    } catch (err) {
      throw new StreamFrameError(`malformed Arrow message at byte ${start}: ${(err as Error).message}`);
    }
    const bodyBytes = Number(message.bodyLength);
    if (!Number.isSafeInteger(bodyBytes) || bodyBytes < 0 || bodyBytes > this.limits.maxFrameBytes) {
      throw new StreamFrameError(`an Arrow message at byte ${start} declares a body of ${String(message.bodyLength)} bytes; the limit is ${this.limits.maxFrameBytes} bytes`);
    }
    let frame: Unended;
    switch (message.headerType) {
      case MessageHeader.Schema:
        frame = { kind: 'schema', message };
        break;
      case MessageHeader.RecordBatch:
        frame = { kind: 'record-batch', message, rows: Number((message.header() as { length: number | bigint }).length) };
        break;
      case MessageHeader.DictionaryBatch:
        frame = { kind: 'dictionary', message };
        break;
      default:
        frame = { kind: 'other', message };
    }
    return { frame, headerBytes: prefix + metaLen, bodyBytes };
  }
}
