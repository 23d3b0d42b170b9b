/**
 * Problems name paths honestly (issue #22 item 4): DATA_DIR and LOADERS_DIR are hidden
 * behind their variable names only where a whole path prefix stands, never inside
 * another directory's name. With a fresh clone's defaults (DATA_DIR=./data, the data
 * root ./datasets) a hint used to read `$DATA_DIRsets/small`; it names the data root's
 * real path (GET /v1/info lists it anyway), while an upload's place under DATA_DIR
 * stays hidden.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { smallCorpus, toneWav } from '../helpers/wav.ts';
import { serverPathRedactor, type ProblemBody } from '../../routes/problem.ts';
import { injectForm } from '../helpers/multipart.ts';

describe('with the default DATA_DIR and data root', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({}, { defaultPaths: true });
    smallCorpus(path.join(t.root, 'small'));
  });
  after(async () => t?.close());

  test('the configuration is the default one: ./data beside ./datasets', async () => {
    assert.equal(t.config.dataDir, path.join(t.base, 'data'));
    assert.deepEqual(t.config.dataRoots, [path.join(t.base, 'datasets')]);
    const info = (await t.app.inject({ url: '/v1/info' })).json();
    assert.deepEqual(info.data_roots, [t.root]);
  });

  test('a problem about a directory in the data root names its path as it is', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/datasets',
      payload: { source: { type: 'directory', path: 'small' }, classes: ['yes', 'absent'] },
    });
    assert.equal(res.statusCode, 422, res.body);
    assert.doesNotMatch(res.body, /\$DATA_DIR/);
    assert.equal(res.json().hint, `no directory named absent in ${path.join(t.root, 'small')}`);
  });

  test("an upload's place under DATA_DIR is still named by the variable", async () => {
    const form = new FormData();
    form.append('settings', JSON.stringify({ classes: ['yes', 'absent'] }));
    form.append('file', new Blob([toneWav()]), 'yes/a.wav');
    const res = await injectForm(t.app, '/v1/datasets', form);
    assert.equal(res.statusCode, 422, res.body);
    assert.ok(!res.body.includes(t.dataDir), res.body);
    assert.match(res.json().hint, /^no directory named absent in \$DATA_DIR\/uploads\/[^/]+$/);
  });
});

describe('serverPathRedactor', () => {
  const body = (detail: string, extra: Record<string, unknown> = {}): ProblemBody => ({ type: 't', title: 't', status: 422, detail, ...extra });
  const redact = serverPathRedactor({ DATA_DIR: '/srv/data', LOADERS_DIR: '/srv/data/loaders' });
  const detail = (text: string) => redact(body(text)).detail;

  test('replaces a whole directory prefix at a path boundary', () => {
    assert.equal(detail('cannot write /srv/data/tmp/x.part'), 'cannot write $DATA_DIR/tmp/x.part');
    assert.equal(detail('"/srv/data/uploads/a"'), '"$DATA_DIR/uploads/a"');
    assert.equal(detail('/srv/data'), '$DATA_DIR');
    assert.equal(detail('nothing left in /srv/data.'), 'nothing left in $DATA_DIR.');
    assert.equal(detail('(/srv/data/x), /srv/data/y; /srv/data'), '($DATA_DIR/x), $DATA_DIR/y; $DATA_DIR');
  });

  test('leaves other directories that merely begin with the same letters', () => {
    for (const text of ['/srv/datasets/kws-toy', '/srv/data.bak/x', '/srv/data-2/x', '/srv/data_old', 'mnt/srv/data/x', '/x/srv/data/y']) {
      assert.equal(detail(text), text);
    }
  });

  test('names a directory inside another by its own variable', () => {
    assert.equal(detail('no loader in /srv/data/loaders/x.mjs'), 'no loader in $LOADERS_DIR/x.mjs');
    assert.equal(detail('/srv/data/loaders-old'), '$DATA_DIR/loaders-old');
  });

  test('every string of the body: members, arrays, nested objects', () => {
    const out = redact(body('x', { path: '/srv/data/a', list: ['/srv/data/b', 3], nested: { hint: 'see /srv/data/c' } }));
    assert.deepEqual([out.path, out.list, out.nested], ['$DATA_DIR/a', ['$DATA_DIR/b', 3], { hint: 'see $DATA_DIR/c' }]);
  });

  test('a data root inside DATA_DIR is shown (GET /v1/info lists it)', () => {
    const r = serverPathRedactor({ DATA_DIR: '/srv/data' }, ['/srv/data/corpora']);
    const d = (text: string) => r(body(text)).detail;
    assert.equal(d('no directory named x in /srv/data/corpora/kws'), 'no directory named x in /srv/data/corpora/kws');
    assert.equal(d('/srv/data/corpora'), '/srv/data/corpora');
    assert.equal(d('/srv/data/corporate/x'), '$DATA_DIR/corporate/x');
    assert.equal(d('/srv/data/tmp and /srv/data/corpora/a'), '$DATA_DIR/tmp and /srv/data/corpora/a');
  });

  test('a trailing slash in the setting changes nothing', () => {
    const r = serverPathRedactor({ DATA_DIR: '/srv/data/' });
    assert.equal(r(body('/srv/data/x and /srv/datasets')).detail, '$DATA_DIR/x and /srv/datasets');
  });
});
