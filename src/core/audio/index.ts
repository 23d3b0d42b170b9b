export { decodeWav, inspectWav, MAX_CHANNELS, MAX_SAMPLE_RATE } from './wav.ts';
export type { DecodedWav, WavInfo, WavRejectReason } from './wav.ts';
export {
  resample,
  resampledLength,
  resamplerStatus,
  resamplerLogLine,
  checkResampleBounds,
  MIN_RESAMPLE_RATE_HZ,
  MAX_RESAMPLE_INPUT_SAMPLES,
  MAX_RESAMPLE_OUTPUT_SAMPLES,
} from './resample.ts';
export type { ResamplerStatus } from './resample.ts';
export { trimBounds, trimSilence, TRIM_FRAME_LENGTH, TRIM_HOP_LENGTH } from './trim.ts';
export { adjustLength, targetLength } from './adjust-length.ts';
export { toInt16 } from './pcm.ts';
export { loadSample, prepareSample, DEFAULT_TRIM_THRESHOLD_DB, MAX_WAV_FILE_BYTES } from './load.ts';
export type { LoadOptions } from './load.ts';
