/**
 * The vocabulary the MLTK rules, the services and the API share, each declared once as
 * a typebox schema (validation and the OpenAPI document) and its Static type, so a value
 * accepted at the edge is by construction one the core knows.
 */
import { Type, type Static } from 'typebox';

/** MLTK's `dtype` / `frontend_dtype`: what spectrograms are delivered as (in the order error messages list them). */
export const FEATURE_DTYPES = ['uint16', 'int8', 'float32'] as const;
export const FeatureDtype = Type.Enum(FEATURE_DTYPES, { description: 'Feature dtype (MLTK dtype): uint16, int8 or float32' });
export type FeatureDtype = Static<typeof FeatureDtype>;

/** Label arrays add int32 (sparse labels of many classes) to the feature dtypes. */
export type LabelDtype = FeatureDtype | 'int32';

/**
 * MLTK's `subset` argument: which load (`load_dataset(subset)`) or which stream. An
 * `evaluation` load and stream read the validation files (spec §8).
 */
export const SubsetName = Type.Union([Type.Literal('training'), Type.Literal('validation'), Type.Literal('evaluation')]);
export type SubsetName = Static<typeof SubsetName>;

/** The two file lists a load produces and the registry stores. */
export const StoredSubsetName = Type.Union([Type.Literal('training'), Type.Literal('validation')]);
export type StoredSubsetName = Static<typeof StoredSubsetName>;

/** MLTK's `class_mode` (null: no labels). */
export const ClassMode = Type.Union([
  Type.Literal('categorical'),
  Type.Literal('binary'),
  Type.Literal('sparse'),
  Type.Literal('input'),
  Type.Null(),
]);
export type ClassMode = Static<typeof ClassMode>;

/**
 * How class directories are listed and split, every listing the rules implement:
 * - `generic` (spec §3–§5.1): per-class percentage split, validation = head of each list;
 * - `speech_commands_v2` (§5.2): MLTK's Speech Commands listing, speakers kept on one side;
 * - `speech_commands_lists`: the dataset's own `validation_list.txt` / `testing_list.txt`
 *   decide the subsets (src/core/datasets/split-lists.ts); evaluation is a subset of its own.
 * A registration offers the first two (src/services/registry/schemas.ts RegistrationListing).
 */
export const Listing = Type.Union([Type.Literal('generic'), Type.Literal('speech_commands_v2'), Type.Literal('speech_commands_lists')]);
export type Listing = Static<typeof Listing>;
