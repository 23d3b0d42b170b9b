/**
 * Issue #11: resource bounds and strict input. Every request that would exceed a limit,
 * or carries a body of the wrong type or shape, is a 4xx problem+json naming what to fix.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { smallCorpus } from '../helpers/wav.ts';

const P = 'https://audiofeed.dev/problems/';

function assertProblem(res: { statusCode: number; headers: Record<string, unknown>; body: string }, status: number, type: string) {
  assert.equal(res.statusCode, status, res.body);
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
  assert.equal(JSON.parse(res.body).type, P + type, res.body);
}

describe('bounds and strict input', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
    smallCorpus(t.root);
  });
  after(async () => t.close());

  const base = () => ({ source: { type: 'directory', path: '.' }, classes: ['yes', 'no'] });

  test('POST /v1/datasets with a body that is neither JSON nor multipart is 415 listing the accepted types', async () => {
    for (const type of ['application/octet-stream', 'application/x-tar', 'text/plain', undefined]) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/datasets',
        headers: type ? { 'content-type': type } : {},
        payload: type ? Buffer.from(JSON.stringify(base())) : undefined,
      });
      assertProblem(res, 415, 'unsupported-media-type');
      assert.deepEqual(res.json().accepted, ['application/json', 'multipart/form-data'], String(type));
    }
  });

  test('every route with a body answers 415 for a type it does not take', async () => {
    const reg = await t.app.inject({ method: 'POST', url: '/v1/datasets', payload: { ...base(), name: 'mt', shuffle_dataset_enabled: true } });
    assert.equal(reg.statusCode, 201, reg.body);
    const cases: Array<[string, string, string]> = [
      ['POST', '/v1/datasets/mt/load', 'text/plain'],
      ['POST', '/v1/datasets/mt/featurize', 'application/x-tar'],
      ['POST', '/v1/datasets/mt/sample-weights', 'text/plain'],
      ['PUT', '/v1/datasets/mt/index', 'application/json'],
      ['POST', '/v1/features', 'application/octet-stream'],
    ];
    for (const [method, url, type] of cases) {
      const res = await t.app.inject({ method: method as 'POST', url, headers: { 'content-type': type }, payload: '{}' });
      assertProblem(res, 415, 'unsupported-media-type');
      assert.ok(Array.isArray(res.json().accepted), url);
    }
  });

  test('JSON bodies are validated as sent (no coercion); query strings still coerce', async () => {
    for (const over of [{ name: 5 }, { validation_split: '0.2' }, { shuffle_dataset_enabled: 'true' }, { classes: 'yes' }, { seed: '3' }]) {
      const res = await t.app.inject({ method: 'POST', url: '/v1/datasets', payload: { ...base(), ...over } });
      assertProblem(res, 400, 'validation-error');
    }
    const ok = await t.app.inject({ method: 'POST', url: '/v1/datasets', payload: { ...base(), name: 'coerce', validation_split: 0.2 } });
    assert.equal(ok.statusCode, 201, ok.body);
    const del = await t.app.inject({ method: 'DELETE', url: '/v1/datasets/coerce?purge=true' });
    assert.equal(del.statusCode, 204);
  });
});
