/**
 * Request validation: the two ajv validators every route schema is compiled with, and
 * how their errors are told to a client — one error per mistake, the one that matters.
 *
 * ajv stops at the first failing keyword (allErrors off), except inside a union
 * (`anyOf`, typebox's Type.Union): there every branch reports why it failed, then the
 * union says that none matched. One wrong `augmentation.offset_range` item thus came out
 * as five errors. `explainValidation` walks that tree and keeps one error: the branch
 * the data was meant for (a discriminating literal such as `source.type`, else the
 * branch that got furthest into the data, else the one whose type matched), or, when
 * the value's type fits no branch, one "must be A, B or C" naming every branch.
 */
import { Ajv, type ErrorObject } from 'ajv';
import addFormats from 'ajv-formats';
import type { RouteOptions } from 'fastify';
import { Type } from 'typebox';

/** Where in the request a mistake is: fastify's validation contexts, or a multipart field by name. */
export type RequestPart = 'body' | 'querystring' | 'params' | 'headers' | (string & {});

/** One mistake, as problem documents carry it in `errors`. */
export interface SchemaErrorItem {
  /** The request part and path, e.g. `body/augmentation/offset_range/1`. */
  location: string;
  /** RFC 6901 JSON pointer into that part (the unknown member itself for an unknown field). */
  pointer: string;
  in: RequestPart;
  message: string;
  /** The unknown field or query parameter. */
  field?: string;
}

const BASE = { removeAdditional: false, useDefaults: true, allErrors: false, strict: false, addUsedSchema: false, verbose: true } as const;

function makeAjv(coerceTypes: false | 'array'): Ajv {
  const ajv = new Ajv({ ...BASE, coerceTypes });
  addFormats.default(ajv);
  return ajv;
}

/** JSON bodies are checked as sent (`"validation_split": "0.2"` is a 400, never coerced). */
const strictAjv = makeAjv(false);
/** Query strings, path parameters and headers are text by nature: coerced to the schema's types. */
const coercingAjv = makeAjv('array');

/**
 * fastify's validator compiler. Both validators reject unknown fields (never silently
 * drop them), fill defaults, and keep the schema and data on each error (`verbose`) so
 * the error can be explained.
 */
export function validatorCompiler() {
  return ({ schema, httpPart }: { schema: object; httpPart?: string }) =>
    (httpPart === 'body' ? strictAjv : coercingAjv).compile(schema) as (data: unknown) => boolean;
}

/** The query schema of an API route that declares none: it takes no query parameters. */
const NO_QUERY = Type.Object({}, { additionalProperties: false });

/**
 * onRoute: every /v1 route refuses query parameters it does not define, as the routes
 * with a query schema do (`additionalProperties: false`), instead of ignoring them: a
 * misspelt `?limt=10` is a 400 naming it, never a silently different answer.
 */
export function refuseUnknownQueryParameters(route: RouteOptions): void {
  if (!route.url.startsWith('/v1/') || route.schema?.querystring) return;
  route.schema = { ...route.schema, querystring: NO_QUERY };
}

/** A request part that fails its schema outside fastify's own validation (a multipart settings field). */
export class SchemaValidationError extends Error {
  readonly statusCode = 400;
  constructor(
    readonly validation: ErrorObject[],
    readonly validationContext: RequestPart,
  ) {
    super(`${validationContext} does not match the schema`);
  }
}

/** A validator of a JSON value sent as is (no coercion), throwing SchemaValidationError for `part`. */
export function jsonValidator<T>(schema: object, part: RequestPart): (value: unknown) => T {
  const validate = strictAjv.compile(schema);
  return (value) => {
    if (validate(value)) return value as T;
    throw new SchemaValidationError(validate.errors ?? [], part);
  };
}

// --- explaining --------------------------------------------------------------------------

const UNIONS = new Set(['anyOf', 'oneOf']);
const depth = (pointer: string) => (pointer === '' ? 0 : pointer.split('/').length - 1);
const escapePointer = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** One explained mistake: where (pointer), what keyword failed, and the message to show. */
interface Mistake {
  pointer: string;
  keyword: string;
  message: string;
  field?: string;
  /** For merging "must be A, B or C": what this branch would have accepted. */
  accepts?: string[];
}

/** The errors under one union error: by branch index, in branch order. */
function branchesOf(union: ErrorObject, errors: ErrorObject[]): ErrorObject[][] {
  const prefix = `${union.schemaPath}/`;
  const byIndex = new Map<number, ErrorObject[]>();
  for (const e of errors) {
    if (!e.schemaPath.startsWith(prefix)) continue;
    const i = Number(e.schemaPath.slice(prefix.length).split('/')[0]);
    if (!byIndex.has(i)) byIndex.set(i, []);
    byIndex.get(i)!.push(e);
  }
  return [...byIndex.entries()].sort((a, b) => a[0] - b[0]).map(([, errs]) => errs);
}

/** A literal property every object branch of a union pins (`source.type`): the branch the data names. */
function discriminated(union: ErrorObject, branches: ErrorObject[][]): Mistake | ErrorObject[] | null {
  const schemas = union.schema as unknown;
  const data = union.data;
  if (!Array.isArray(schemas) || !isObject(data)) return null;
  const objects = schemas
    .map((s, i) => ({ s: s as Record<string, unknown>, i }))
    .filter(({ s }) => isObject(s.properties));
  if (objects.length < 2) return null;
  const keys = Object.keys(objects[0]!.s.properties as object).filter((k) =>
    objects.every(({ s }) => isObject((s.properties as Record<string, unknown>)[k]) && 'const' in ((s.properties as Record<string, Record<string, unknown>>)[k] ?? {})),
  );
  for (const key of keys) {
    if (!(key in data)) continue;
    const constOf = (s: Record<string, unknown>) => (s.properties as Record<string, Record<string, unknown>>)[key]!.const;
    const match = objects.filter(({ s }) => constOf(s) === data[key]);
    if (match.length === 1) {
      // Branch errors are grouped by index; a branch without errors would have matched.
      const idx = match[0]!.i;
      const prefix = `${union.schemaPath}/${idx}/`;
      return branches.find((b) => b[0]!.schemaPath.startsWith(prefix)) ?? null;
    }
    if (match.length === 0) {
      const allowed = objects.map(({ s }) => JSON.stringify(constOf(s)));
      return { pointer: `${union.instancePath}/${escapePointer(key)}`, keyword: 'const', message: `must be ${orList(allowed)}`, accepts: allowed };
    }
  }
  return null;
}

function orList(items: string[]): string {
  const unique = [...new Set(items)];
  return unique.length <= 1 ? (unique[0] ?? '') : `${unique.slice(0, -1).join(', ')} or ${unique.at(-1)}`;
}

/** The message of a single (non-union) error, in the words a client needs. */
function single(e: ErrorObject, part: RequestPart): Mistake {
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const field = String(params.additionalProperty);
      const known = Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {});
      const pointer = `${e.instancePath}/${escapePointer(field)}`;
      if (part === 'querystring') {
        const takes = known.length > 0 ? `this route takes ${known.join(', ')}` : 'this route takes no query parameters';
        return { pointer, keyword: e.keyword, field, message: `unknown query parameter ${JSON.stringify(field)}; ${takes}` };
      }
      const takes = known.length > 0 ? `; the fields here are ${known.join(', ')}` : '';
      return { pointer, keyword: e.keyword, field, message: `unknown field ${JSON.stringify(field)}${takes}` };
    }
    case 'type':
      return { pointer: e.instancePath, keyword: e.keyword, message: e.message ?? 'has the wrong type', accepts: String(params.type).split(',') };
    case 'const': {
      const v = JSON.stringify(params.allowedValue);
      return { pointer: e.instancePath, keyword: e.keyword, message: `must be ${v}`, accepts: [v] };
    }
    case 'enum': {
      const values = ((params.allowedValues as unknown[]) ?? []).map((v) => JSON.stringify(v));
      return { pointer: e.instancePath, keyword: e.keyword, message: `must be ${orList(values)}`, accepts: values };
    }
    default:
      return { pointer: e.instancePath, keyword: e.keyword, message: e.message ?? 'is not valid' };
  }
}

/** The one mistake a list of ajv errors (one validation run, or one union branch) describes. */
function explain(errors: ErrorObject[], part: RequestPart): Mistake {
  // Errors inside a union belong to that union: the first error outside every union is the mistake.
  const unions = errors.filter((e) => UNIONS.has(e.keyword));
  const inUnion = (e: ErrorObject) => unions.some((u) => u !== e && e.schemaPath.startsWith(`${u.schemaPath}/`));
  const top = errors.find((e) => !inUnion(e)) ?? errors[0]!;
  if (!UNIONS.has(top.keyword)) return single(top, part);

  const branches = branchesOf(top, errors);
  if (branches.length === 0) return single(top, part); // oneOf with several matches
  const named = discriminated(top, branches);
  if (named && !Array.isArray(named)) return named;
  if (named) return explain(named, part);

  const candidates = branches.map((b) => explain(b, part));
  // The branch that got furthest into the data is the one it was meant for.
  const deepest = Math.max(...candidates.map((c) => depth(c.pointer)));
  const best = candidates.filter((c) => depth(c.pointer) === deepest);
  // The value is none of the types or literals the branches take: name them all.
  if (best.length > 1 && best.every((c) => c.accepts)) {
    const accepts = best.flatMap((c) => c.accepts!);
    return { pointer: best[0]!.pointer, keyword: best[0]!.keyword, message: `must be ${orList(accepts)}`, accepts };
  }
  // A branch whose type matched the value (a number out of range) says more than one whose type did not.
  return best.find((c) => c.keyword !== 'type') ?? best[0]!;
}

/** The one error a failed validation of `part` reports. */
export function explainValidation(errors: ErrorObject[], part: RequestPart): SchemaErrorItem {
  if (errors.length === 0) return { location: part, pointer: '', in: part, message: 'does not match the schema' };
  const m = explain(errors, part);
  // `location` names the object holding an unknown field (as before), `pointer` the field.
  const holder = m.field !== undefined ? m.pointer.slice(0, m.pointer.lastIndexOf('/')) : m.pointer;
  return { location: `${part}${holder}`, pointer: m.pointer, in: part, message: m.message, ...(m.field !== undefined ? { field: m.field } : {}) };
}

/** The problem `detail` of one explained error. */
export function describeSchemaError(e: SchemaErrorItem): string {
  if (e.field === undefined) return `${e.location} ${e.message}`;
  return e.in === 'querystring' ? e.message : `${e.location}: ${e.message}`;
}
