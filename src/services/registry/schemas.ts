/**
 * What a registration takes (the JSON body of POST /v1/datasets, and the `settings` part
 * of an upload): the validation, the TypeScript types and the OpenAPI document at once.
 * Field names are MLTK's. The HTTP-only shapes (params, the dataset view) are in
 * routes/datasets/schemas.ts.
 */
import { Type, type Static } from 'typebox';
import { MAX_BATCH_SIZE } from '../../core/datasets/batch-order.ts';
import { FrontendSettingsSchema } from '../../core/frontend/settings-schema.ts';
import { ClassMode, FeatureDtype, SubsetName } from '../../core/schemas.ts';
import { StandardizationFields } from '../../core/tensors/standardize.ts';

/**
 * The listings a registration may ask for (src/core/schemas.ts Listing): `speech_commands_lists`
 * takes validation and evaluation from `validation_list.txt` / `testing_list.txt`.
 */
export const RegistrationListing = Type.Union([
  Type.Literal('generic'),
  Type.Literal('speech_commands_v2'),
  Type.Literal('speech_commands_lists'),
]);
export type RegistrationListing = Static<typeof RegistrationListing>;

export const DatasetId = Type.String({
  pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$',
  description: 'Dataset id: the `name` given at registration, or a generated one',
});

export const DirectorySource = Type.Object(
  {
    type: Type.Literal('directory'),
    path: Type.String({ minLength: 1, maxLength: 4096, description: 'Dataset directory inside an allow-listed root' }),
  },
  { additionalProperties: false },
);

/** `validation_data`: a registered dataset's id, or a directory source (Keras/MLTK validation_data). */
export const ValidationDataInput = Type.Union([DatasetId, DirectorySource], {
  description: 'Registered dataset id or {type:"directory", path}: its files are the validation (and evaluation) subset; validation_split must then be 0 or absent',
});
export type ValidationDataInput = Static<typeof ValidationDataInput>;

export const LoaderSource = Type.Object(
  {
    type: Type.Literal('loader'),
    name: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$', description: 'Loader module in LOADERS_DIR' }),
    options: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { additionalProperties: false },
);

export const UploadSource = Type.Object(
  { type: Type.Literal('upload') },
  { additionalProperties: false, description: 'Only in a multipart request: the archive or files follow the settings part' },
);

export const ClassWeightsInput = Type.Union([
  Type.Null(),
  Type.String({ description: "'balanced', 'none', or any other string (MLTK then uses no weights and says why)" }),
  // Checked against the classes at registration (422: src/core/datasets/class-weights.ts checkClassWeightsSpec).
  Type.Record(Type.String(), Type.Number(), { description: 'weight per class name (or per class id): every class, finite, ≥ 0' }),
  Type.Array(Type.Number(), { maxItems: 4096, description: 'weight per class id: one per class, finite, ≥ 0' }),
]);

/** Augmentation ranges: finite pairs; MLTK's own ranges are small (offsets ≤ 1, factors ≤ ~2, dB ≤ ~60). */
const Range = Type.Union([Type.Tuple([Type.Number({ minimum: -1000, maximum: 1000 }), Type.Number({ minimum: -1000, maximum: 1000 })]), Type.Null()]);

/** MLTK ParallelAudioDataGenerator augmentation settings (spec §14), MLTK names. */
export const AugmentationSchema = Type.Object(
  {
    offset_range: Type.Optional(Range),
    loudness_range: Type.Optional(Range),
    // Literals first: with coerceTypes 'array', a plain string would otherwise become [string].
    noise_colors: Type.Optional(Type.Union([Type.Literal('all'), Type.Literal('none'), Type.Null(), Type.Array(Type.String())])),
    noise_color_range: Type.Optional(Range),
    noise_color_level: Type.Optional(Type.Union([Type.Literal('mltk'), Type.Literal('peak')])),
    bg_noise_range: Type.Optional(Range),
    bg_noise_dir: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 4096 }), Type.Null()])),
    bg_noise_mode: Type.Optional(Type.Union([Type.Literal('mix'), Type.Literal('mltk')])),
    speed_range: Type.Optional(Range),
    pitch_range: Type.Optional(Range),
    vtlp_range: Type.Optional(Range),
    validation_augmentation_enabled: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false, description: 'Training-time augmentation; training (and validation) batches are then computed per epoch, seeded per (seed, epoch, batch)' },
);

/** Everything of a registration except the source. */
export const DatasetSettingsFields = {
  name: Type.Optional(DatasetId),
  classes: Type.Array(Type.String({ minLength: 1, maxLength: 255 }), {
    minItems: 1,
    maxItems: 4096,
    description: 'Ordered class list; may contain _unknown_ and _silence_',
  }),
  validation_split: Type.Optional(
    Type.Number({ minimum: 0, exclusiveMaximum: 1, description: 'MLTK accepts 0 or a value strictly between 0 and 1' }),
  ),
  // Relative to the average known-class size (spec §6.1/§6.2): 100 is a hundred times a
  // class, far beyond any MLTK model (they use ≤ ~5); MAX_SUBSET_ENTRIES bounds the rest.
  unknown_class_percentage: Type.Optional(Type.Number({ minimum: 0, maximum: 100, description: 'default 1.0; at most 100 (× the average class size)' })),
  silence_class_percentage: Type.Optional(Type.Number({ minimum: 0, maximum: 100, description: 'default 0.6; at most 100 (× the average class size)' })),
  follow_links: Type.Optional(Type.Boolean({ description: 'default true (the mixin default)' })),
  shuffle_dataset_enabled: Type.Optional(Type.Boolean({ description: 'default false' })),
  class_mode: Type.Optional(ClassMode),
  class_weights: Type.Optional(ClassWeightsInput),
  seed: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 4294967295 }), Type.Null()])),
  batch_size: Type.Optional(Type.Integer({ minimum: -1, maximum: MAX_BATCH_SIZE, description: `default 32; -1 = whole subset; at most ${MAX_BATCH_SIZE}` })),
  max_samples_per_class: Type.Optional(Type.Integer({ minimum: -1, maximum: 100_000_000, description: 'default -1 (all)' })),
  listing: Type.Optional(RegistrationListing),
  validation_data: Type.Optional(ValidationDataInput),
  eval_shuffle: Type.Optional(Type.Boolean({ description: 'Shuffle evaluation batches; default false (MLTK)' })),
  eval_augment: Type.Optional(Type.Boolean({ description: 'Augment evaluation batches; default false (MLTK)' })),
  eval_max_samples_per_class: Type.Optional(
    Type.Integer({ minimum: -1, description: 'default -1 (all); an evaluation load uses it instead of max_samples_per_class' }),
  ),
  dtype: Type.Optional(FeatureDtype),
  add_channel_dimension: Type.Optional(Type.Boolean()),
  frontend_enabled: Type.Optional(Type.Boolean()),
  sample_shape: Type.Optional(
    Type.Array(Type.Integer({ minimum: 1, maximum: 1_000_000_000 }), {
      minItems: 1,
      maxItems: 4,
      description: 'Input shape when frontend_enabled=false: its product must be the clip length in samples (sample_rate_hz × sample_length_ms / 1000)',
    }),
  ),
  frontend_settings: Type.Optional(FrontendSettingsSchema),
  trim_threshold_db: Type.Optional(Type.Number({ minimum: 0, maximum: 200, description: 'Silence trimming (librosa top_db); 0 = off; default 20' })),
  // MLTK's standardization of each spectrogram (dtype float32 only), applied at batch assembly.
  ...StandardizationFields,
  augmentation: Type.Optional(Type.Union([AugmentationSchema, Type.Null()])),
  load: Type.Optional(SubsetName),
};

export const RegisterBody = Type.Object(
  {
    source: Type.Union([DirectorySource, LoaderSource]),
    ...DatasetSettingsFields,
  },
  { additionalProperties: false },
);
export type RegisterBodyT = Static<typeof RegisterBody>;

/** The settings part of a multipart upload registration. */
export const UploadSettings = Type.Object(
  {
    source: Type.Optional(UploadSource),
    ...DatasetSettingsFields,
  },
  { additionalProperties: false },
);
export type UploadSettingsT = Static<typeof UploadSettings>;
