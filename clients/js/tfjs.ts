/**
 * TensorFlow.js adapter: an audiofeed batch stream as a `tf.data.Dataset` of `{xs, ys}`
 * for `model.fitDataset`. The `tf` module is a parameter so this file works with
 * @tensorflow/tfjs, tfjs-node or tfjs-node-gpu without importing any of them.
 */
import type { AudiofeedClient, BatchParams, Tensor, TypedArray } from './client.ts';

/** The part of the tfjs API used here; the real `tf` module satisfies it. */
export interface TfModule<TTensor, TDataset> {
  tensor(values: Float32Array | Int32Array, shape: number[], dtype: 'float32' | 'int32'): TTensor;
  data: {
    // tfjs declares `() => Iterator<T> | Promise<Iterator<T>>` but awaits each `next()`,
    // so an async generator works at runtime; `any` bridges the declared type.
    generator(generator: () => any): TDataset;
  };
}

export interface TfDatasetOptions {
  /** tfjs has no int8/uint16 tensors: features become float32 (values unchanged). */
  labelDtype?: 'float32' | 'int32';
}

export interface TfElement<TTensor> {
  xs: TTensor;
  ys?: TTensor;
}

/**
 * Each pass over the returned dataset (fitDataset starts one per epoch) streams the next
 * epoch, starting at `params.epoch` (default 0), so every epoch gets its own order as in MLTK.
 */
export function toTfDataset<TTensor, TDataset>(
  client: AudiofeedClient,
  id: string,
  params: BatchParams,
  tf: TfModule<TTensor, TDataset>,
  options: TfDatasetOptions = {},
): TDataset {
  let epoch = params.epoch ?? 0;
  const labelDtype = options.labelDtype ?? 'float32';
  return tf.data.generator(async function* (): AsyncGenerator<TfElement<TTensor>> {
    const batches = client.batches(id, { ...params, epoch: epoch++ });
    for await (const batch of batches) {
      const xs = toTensor(tf, batch.x, 'float32');
      yield batch.y ? { xs, ys: toTensor(tf, batch.y, labelDtype) } : { xs };
    }
  });
}

function toTensor<TTensor>(tf: TfModule<TTensor, unknown>, t: Tensor, dtype: 'float32' | 'int32'): TTensor {
  return tf.tensor(convert(t.data, dtype), t.shape, dtype);
}

/** Keeps float32/int32 arrays as they are (no copy) and widens the narrow types tfjs lacks. */
function convert(data: TypedArray, dtype: 'float32' | 'int32'): Float32Array | Int32Array {
  if (dtype === 'float32') return data instanceof Float32Array ? data : Float32Array.from(data);
  return data instanceof Int32Array ? data : Int32Array.from(data);
}
