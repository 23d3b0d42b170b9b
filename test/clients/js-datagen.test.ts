/** The Node client's datagen() against the live service (loopback port, corpus-mini registered). */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { AudiofeedClient, AudiofeedError } from '../../clients/js/client.ts';
import { BATCH_SIZE, registerCorpus, startLiveService, subsetSize, type LiveService } from './live-service.ts';

const ID = 'corpus-mini';
let live: LiveService;

before(
  async () => {
    live = await startLiveService();
    await registerCorpus(live, ID);
  },
  { timeout: 240_000 },
);
after(async () => live?.close(), { timeout: 240_000 });

test('datagen() answers what the generator of each subset uses', async () => {
  const client = new AudiofeedClient(live.baseUrl);
  const info = await client.dataset(ID);
  const training = await subsetSize(live, ID, 'training');
  const dg = await client.datagen(ID, 'training', { epoch: 0, validation_freq: 2 });
  assert.equal(dg.samples, training);
  assert.equal(dg.batch_size, BATCH_SIZE);
  assert.equal(dg.batches_per_epoch, Math.ceil(training / BATCH_SIZE));
  assert.equal(dg.batches, dg.batches_per_epoch);
  assert.equal(dg.steps_per_epoch, null);
  assert.deepEqual(dg.x_shape, info.audio_input_shape);
  assert.equal(dg.validation_after_epoch, false);
  // The standardization x gets (off for this registration), with MLTK's names.
  assert.deepEqual(
    [dg.dtype, dg.rescale, dg.samplewise_center, dg.samplewise_std_normalization, dg.samplewise_normalize_range],
    ['float32', null, false, false, null],
  );
  const validation = await subsetSize(live, ID, 'validation');
  const va = await client.datagen(ID, 'validation', { validation_batch_size: 5, validation_steps: 1 });
  assert.equal(va.samples, validation);
  assert.equal(va.batch_size, 5);
  assert.equal(va.batches, 1);
  await assert.rejects(client.datagen('no-such-dataset'), (err: unknown) => err instanceof AudiofeedError && err.status === 404);
});
