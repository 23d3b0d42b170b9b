/**
 * Schemas of the /v1/datasets resource beside its routes: path parameters, query
 * strings and the dataset view. The registration body itself is the registry's
 * (src/services/registry/schemas.ts); the shared vocabulary (dtype, subset names, class
 * mode, listing) is declared once in src/core/schemas.ts.
 */
import { MAX_BATCH_SIZE } from '../../src/core/datasets/batch-order.ts';
import { Type, type Static } from 'typebox';
import { ClassMode, FeatureDtype, SubsetName } from '../../src/core/schemas.ts';
import { DatasetId, RegistrationListing } from '../../src/services/registry/schemas.ts';

export const IdParams = Type.Object({ id: DatasetId }, { additionalProperties: false });

export const SampleParams = Type.Object(
  { id: DatasetId, n: Type.Integer({ minimum: 0, description: 'Position of the sample in the subset (as in GET …/samples)' }) },
  { additionalProperties: false },
);

export const ClassCounts = Type.Record(Type.String(), Type.Integer());

export const DatasetView = Type.Object(
  {
    id: Type.String(),
    status: Type.Union([Type.Literal('ready'), Type.Literal('unloaded')]),
    created_at: Type.String(),
    updated_at: Type.String(),
    source: Type.Record(Type.String(), Type.Unknown()),
    dataset_dir: Type.String(),
    listing: RegistrationListing,
    audio_classes: Type.Array(Type.String()),
    audio_input_shape: Type.Array(Type.Integer()),
    sample_rate_hz: Type.Integer(),
    sample_length_ms: Type.Integer(),
    class_mode: ClassMode,
    frontend_enabled: Type.Boolean(),
    frontend_settings: Type.Record(Type.String(), Type.Unknown()),
    loaded_subset: Type.Union([SubsetName, Type.Null()], {
      description: 'The most recent load the dataset holds (null: none); class_counts, summary and warnings are its own',
    }),
    loaded_subsets: Type.Array(SubsetName, {
      description: 'Every subset loaded (training, validation, evaluation): all are served at once, to any number of clients',
    }),
    loads: Type.Record(Type.String(), Type.Record(Type.String(), Type.Unknown()), {
      description: 'Per loaded subset: what its load computed (class_counts, summary, class_weights, warnings, loaded_at, lists)',
    }),
    class_counts: Type.Record(Type.String(), ClassCounts),
    class_weights: Type.Unknown(),
    index: Type.Record(Type.String(), Type.Unknown()),
    validation_data: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()], {
      description: 'With validation_data: its dataset dir, dataset id (or null for a directory source) and index',
    }),
    settings: Type.Record(Type.String(), Type.Unknown()),
    warnings: Type.Array(Type.String()),
  },
  { additionalProperties: false },
);

/** GET …/summary and …/class-counts: the load of one subset (default: the most recent load). */
export const LoadQuery = Type.Object({ subset: Type.Optional(SubsetName) }, { additionalProperties: false });

/** GET …/samples and the sample previews read a loaded list (default training; evaluation: the evaluation list, else the validation list). */
export const StoredSubsetQuery = Type.Object({ subset: Type.Optional(SubsetName) }, { additionalProperties: false });

/** GET …/batches: Keras `fit` names. */
export const BatchQuery = Type.Object(
  {
    subset: Type.Optional(SubsetName),
    epoch: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 })),
    batch_size: Type.Optional(Type.Integer({ minimum: -1, maximum: MAX_BATCH_SIZE })),
    validation_batch_size: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_BATCH_SIZE })),
    shuffle: Type.Optional(
      Type.Union([Type.Literal('true'), Type.Literal('false'), Type.Literal('batch')], {
        description: 'Per-epoch reshuffle (default: on; evaluation: eval_shuffle)',
      }),
    ),
    steps_per_epoch: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000_000 })),
    validation_steps: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000_000 })),
    class_mode: Type.Optional(
      Type.Union([Type.Literal('categorical'), Type.Literal('binary'), Type.Literal('sparse'), Type.Literal('input'), Type.Literal('none')]),
    ),
    dtype: Type.Optional(FeatureDtype),
    class_weight: Type.Optional(Type.Boolean()),
    sample_weight_id: Type.Optional(Type.String({ pattern: '^[a-f0-9]{16,64}$' })),
    from_batch: Type.Optional(Type.Integer({ minimum: 0 })),
    format: Type.Optional(Type.Union([Type.Literal('arrow'), Type.Literal('npy')])),
    augment: Type.Optional(Type.Boolean({ description: 'Apply the dataset augmentation (default: training yes, validation when validation_augmentation_enabled, evaluation when eval_augment)' })),
  },
  { additionalProperties: false },
);
export type BatchQuery = Static<typeof BatchQuery>;

/** POST …/featurize and …/sample-weights name the subset (default training). */
export const SubsetBody = { subset: Type.Optional(SubsetName) };
