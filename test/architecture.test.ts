/**
 * The dependency rule (docs/architecture.md "The dependency rule", rules in .dependency-cruiser.cjs), checked
 * by dependency-cruiser over every folder of the project:
 *
 * - src/core imports only src/core; src/services imports only src/core and src/services
 *   (adapters are reached through src/services/ports.ts);
 * - store/ and cli/ import no other adapter, jobs/ only store/, web/ only web/;
 * - no import cycle anywhere (type-only imports count).
 *
 * A failure lists every violation on its own line. The second test runs the same rules
 * over a small tree that breaks each of them, so a rule that silently matches nothing
 * (a typo in a path pattern) fails here instead of passing forever.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cruise, type ICruiseOptions, type ICruiseResult, type IViolation } from 'dependency-cruiser';
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options';
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config';
import { PROJECT_ROOT } from './helpers/paths.ts';

const FOLDERS = ['src', 'routes', 'jobs', 'store', 'cli', 'web', 'loaders', 'bench', 'scripts', 'test', 'bin'];
const CONFIG = path.join(PROJECT_ROOT, '.dependency-cruiser.cjs');

/** One line per violation: the rule, then the import (or the whole cycle). */
function describeViolation(v: IViolation): string {
  const chain = v.cycle && v.cycle.length > 0 ? [v.from, ...v.cycle.map((d) => d.name)] : [v.from, v.to];
  return `${v.rule.name}: ${chain.join(' → ')}`;
}

async function check(options: ICruiseOptions, folders: string[], tsConfig?: string): Promise<ICruiseResult> {
  const result = await cruise(folders, options, undefined, tsConfig ? { tsConfig: extractTSConfig(tsConfig) } : undefined);
  return result.output as ICruiseResult;
}

test('architecture: every import follows the dependency rule, and there is no cycle', async () => {
  const options = await extractDepcruiseOptions(CONFIG);
  const result = await check({ ...options, baseDir: PROJECT_ROOT }, FOLDERS, path.join(PROJECT_ROOT, 'tsconfig.json'));
  // The cruise saw the project (every layer), not an empty or mistyped folder list.
  const seen = new Set(result.modules.map((m) => m.source.split('/').slice(0, m.source.startsWith('src/') ? 2 : 1).join('/')));
  for (const layer of ['src/core', 'src/services', 'routes', 'jobs', 'store', 'cli', 'web', 'loaders', 'test']) assert.ok(seen.has(layer), `cruised ${layer}`);
  const lines = result.summary.violations.map(describeViolation);
  assert.deepEqual(lines, [], `dependency rule violations (.dependency-cruiser.cjs):\n  ${lines.join('\n  ')}`);
});

test('architecture: the rules catch adapter imports from the core and the services, imports against the layering, and a type-only cycle', async (t) => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'audiofeed-arch-'));
  t.after(() => fs.rmSync(base, { recursive: true, force: true }));
  const files: Record<string, string> = {
    'src/core/dsp.ts': "import { handler } from '../../routes/handler.ts';\nexport const dsp = handler;\n",
    'routes/handler.ts': 'export const handler = 1;\n',
    'src/services/plan.ts': "import type { Job } from '../../jobs/job.ts';\nexport type Plan = Job;\n",
    'jobs/job.ts': 'export interface Job { id: string }\n',
    'store/a.ts': "import type { B } from './b.ts';\nexport interface A { b?: B }\n",
    'store/b.ts': "import type { A } from './a.ts';\nexport interface B { a?: A }\n",
    'cli/main.ts': "import { handler } from '../routes/handler.ts';\nexport const main = handler;\n",
    'src/services/registry/service.ts': "import { SHARD } from '../features/plan.ts';\nexport const n = SHARD;\n",
    'src/services/features/plan.ts': "import { ORDER } from '../epochs/order.ts';\nexport const SHARD = ORDER;\n",
    'src/services/epochs/order.ts': 'export const ORDER = 1;\n',
  };
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(base, rel)), { recursive: true });
    fs.writeFileSync(path.join(base, rel), text);
  }
  const { tsConfig: _projectTsConfig, ...options } = await extractDepcruiseOptions(CONFIG);
  const result = await check({ ...options, baseDir: base }, ['src', 'routes', 'jobs', 'store', 'cli']);
  const lines = result.summary.violations.map(describeViolation).sort();
  assert.deepEqual(lines, [
    'core-imports-only-core: src/core/dsp.ts → routes/handler.ts',
    'features-import-no-epochs: src/services/features/plan.ts → src/services/epochs/order.ts',
    'no-circular: store/a.ts → store/b.ts → store/a.ts',
    'registry-is-the-base-service: src/services/registry/service.ts → src/services/features/plan.ts',
    'services-import-no-adapter: src/services/plan.ts → jobs/job.ts',
    'store-and-cli-import-no-other-adapter: cli/main.ts → routes/handler.ts',
  ]);
});
