/** Schemas of /v1/jobs: a featurization job id is `featurize-` and its content key. */
import { Type } from 'typebox';

export const JobParams = Type.Object({ id: Type.String({ pattern: '^featurize-[a-f0-9]{32}$' }) }, { additionalProperties: false });
