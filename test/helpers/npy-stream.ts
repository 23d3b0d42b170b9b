/** Reading the .npy batch streams of GET …/batches?format=npy in tests. */
import { decodeNpy, type DecodedNpy } from '../../src/core/tensors/npy.ts';

/** The batches of an npy stream whose batches are x then y (a label column), in order. */
export function npyBatches(body: Buffer): { x: DecodedNpy; y: DecodedNpy }[] {
  const out: { x: DecodedNpy; y: DecodedNpy }[] = [];
  for (let at = 0; at < body.length; ) {
    const x = decodeNpy(body.subarray(at));
    at += x.byteLength;
    const y = decodeNpy(body.subarray(at));
    at += y.byteLength;
    out.push({ x, y });
  }
  return out;
}

/** The x bytes of each batch of such a stream. */
export function npyXs(body: Buffer): Buffer[] {
  return npyBatches(body).map(({ x }) => Buffer.from(x.data.buffer, x.data.byteOffset, x.data.byteLength));
}
