/** Schemas of /v1/jobs: a featurization job id is `featurize-` and its content key. */
import { Type } from 'typebox';
import { DatasetId } from '../../src/services/registry/schemas.ts';
import { PageQueryFields } from '../pagination.ts';

export const JobParams = Type.Object({ id: Type.String({ pattern: '^featurize-[a-f0-9]{32}$' }) }, { additionalProperties: false });

/** The states a featurization's progress shows (BullMQ's, and `cancelled`). */
export const JOB_STATES = ['waiting-children', 'waiting', 'prioritized', 'delayed', 'active', 'completed', 'failed', 'cancelled'] as const;

/** GET /v1/jobs: filters (`state` may repeat: any of them) and the page. */
export const JobListQuery = Type.Object(
  {
    dataset: Type.Optional(DatasetId),
    state: Type.Optional(
      Type.Array(Type.Enum(JOB_STATES), { maxItems: JOB_STATES.length, description: `Only jobs in this state (repeat for several): ${JOB_STATES.join(', ')}` }),
    ),
    ...PageQueryFields,
  },
  { additionalProperties: false },
);
