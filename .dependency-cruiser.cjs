/**
 * The dependency rule of audiofeed (docs/architecture.md, "The dependency rule"), checked by
 * test/architecture.test.ts on every `npm test`:
 *
 *   src/core      imports only src/core (and npm packages, Node built-ins)
 *   src/services  imports only src/core and src/services: adapters are reached through
 *                 the ports in src/services/ports.ts. Inside, registry/ is the base
 *                 (it imports no features/ or epochs/) and features/ imports no epochs/.
 *   adapters      routes/ (HTTP), jobs/ (BullMQ), store/ (Redis), cli/, web/, loaders/:
 *                 store/ and cli/ import no other adapter, jobs/ only store/, web/ only web/;
 *                 routes/ is the API's composition root and may wire jobs/ and store/
 *   everywhere    no import cycle, type-only imports included
 *
 * Paths are relative to the project root (or `baseDir` when the test checks its fixture).
 */
const ADAPTERS = '^(routes|jobs|store|cli|web|loaders)/';
const OUTSIDE_CORE = '^(?!src/core/)[^/]+/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'core-imports-only-core',
      comment: 'src/core is the pure core (MLTK rules, DSP, tensor encoding): it may import src/core only.',
      severity: 'error',
      from: { path: '^src/core/' },
      to: { path: OUTSIDE_CORE, pathNot: '(^|/)node_modules/', dependencyTypesNot: ['core'] },
    },
    {
      name: 'services-import-no-adapter',
      comment: 'src/services talks to Redis, BullMQ and HTTP only through the ports in src/services/ports.ts.',
      severity: 'error',
      from: { path: '^src/services/' },
      to: { path: '^(?!src/(core|services)/)[^/]+/', pathNot: '(^|/)node_modules/', dependencyTypesNot: ['core'] },
    },
    {
      name: 'registry-is-the-base-service',
      comment: 'Featurization and epochs build on the registry, never the other way round.',
      severity: 'error',
      from: { path: '^src/services/registry/' },
      to: { path: '^src/services/(features|epochs)/' },
    },
    {
      name: 'features-import-no-epochs',
      comment: 'Epochs are assembled from features; features know nothing of epochs.',
      severity: 'error',
      from: { path: '^src/services/features/' },
      to: { path: '^src/services/epochs/' },
    },
    {
      name: 'src-imports-no-test-or-bench',
      comment: 'Production code never imports tests or benchmarks.',
      severity: 'error',
      from: { path: `^src/|${ADAPTERS}|^bin/` },
      to: { path: '^(test|bench)/' },
    },
    {
      name: 'store-and-cli-import-no-other-adapter',
      comment: 'store/ (Redis) and cli/ stand alone: they import src/ and their own folder only.',
      severity: 'error',
      from: { path: '^(store|cli)/' },
      to: { path: '^(routes|jobs|store|cli|web|loaders)/', pathNot: '^$1/' },
    },
    {
      name: 'jobs-import-only-the-store-adapter',
      comment: 'jobs/ (BullMQ) may use store/ (job metrics, Redis connections), never the HTTP side or the CLI.',
      severity: 'error',
      from: { path: '^jobs/' },
      to: { path: '^(routes|cli|web|loaders)/' },
    },
    {
      name: 'web-stands-alone',
      comment: 'web/ (the dashboard sources and their build) imports nothing of the service: the page talks to /v1 over HTTP.',
      severity: 'error',
      from: { path: '^web/' },
      to: { path: '^(?!web/)[^/]+/', pathNot: '(^|/)node_modules/', dependencyTypesNot: ['core'] },
    },
    {
      name: 'no-circular',
      comment: 'No import cycle anywhere, type-only imports included.',
      severity: 'error',
      from: { path: '^(src|routes|jobs|store|cli|web|loaders|bench|test|bin)/' },
      to: { circular: true },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'Every relative import resolves to a file.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true, dependencyTypesNot: ['core'] },
    },
  ],
  options: {
    // Type-only imports are dependencies too: a cycle through `import type` is still a cycle.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(node_modules|build|web/dist|clients/python|test-output)/' },
    moduleSystems: ['es6', 'cjs'],
    enhancedResolveOptions: {
      extensions: ['.ts', '.mjs', '.js', '.json'],
      exportsFields: ['exports'],
      conditionNames: ['import', 'node', 'default'],
    },
  },
};
