/** Public API of the MLTK dataset rules (spec/dataset.md). */
export type {
  ClassMode,
  DatasetDirs,
  DatasetOptions,
  IndexDirs,
  IndexInfo,
  Listing,
  LoadKind,
  LoadResult,
  Subset,
  SubsetName,
  IndexLocation,
} from './types.ts';
export { loadDataset, loadedSubset, listSubset, reindex, findUnknownCandidates, unknownSeed } from './load.ts';
export {
  VALIDATION_LIST_FILE,
  TESTING_LIST_FILE,
  MAX_REPORTED_LINES,
  normaliseListLine,
  parseSplitList,
  readSplitLists,
  listPart,
  type ListLine,
  type ParsedList,
  type SplitLists,
} from './split-lists.ts';
export {
  compareClassDirectories,
  assertSameClasses,
  checkValidationDataOptions,
  type ClassDifferences,
} from './validation-data.ts';
export { summarizeDataset, summaryJson, summarySections, type SummarySection } from './summary.ts';
export {
  computeClassWeights,
  formatClassWeightsLog,
  CLASS_WEIGHTS_WARNING,
  type ClassWeightsResult,
  type ClassWeightsFailure,
} from './class-weights.ts';
export {
  batchesFrom,
  batchesPerEpoch,
  batchIndices,
  epochBatches,
  epochIndexArray,
  maxBatchRows,
  EpochBatches,
  MAX_BATCH_SIZE,
  DEFAULT_EPOCH_SEED,
  type BatchList,
  type BatchOrderOptions,
} from './batch-order.ts';
export { buildLabels, assertClassMode, CLASS_MODES, type LabelBatch, type LabelArray } from './labels.ts';
export { validateOptions } from './options.ts';
export { RandomState } from '../random.ts';
export { compareCodePoints, sortByCodePoint } from './code-point-order.ts';
export { listClassEntries, isSampleName, type ClassListing } from './listing.ts';
export {
  INDEX_DIR_NAME,
  SEED_FILE_NAME,
  indexFilePath,
  parseIndex,
  formatIndex,
  findFirstMissing,
  findMissing,
  readSeedRecord,
  type ExistenceStrategy,
  type SeedRecord,
} from './index-files.ts';
export { speakerGroup, speechCommandsSplitPoint, SHUFFLE_NOT_SUPPORTED } from './speech-commands.ts';
export { splitPoint } from './split.ts';
export { UNKNOWN_CLASS, SILENCE_CLASS, isPseudoClass } from './subset.ts';
