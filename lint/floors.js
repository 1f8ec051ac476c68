// The floor plan of BitPredict as two ESLint rules (docs/architecture.md draws it):
//
//   cli/ bench/ test/ (and *.test.ts)   on top: may import anything
//   services, side by side               import core/ and schemas/ only, never each other
//   core/                                infrastructure and shared libraries: imports schemas/
//   schemas/                             the contracts: imports nothing of the project
//
// floors/no-cross-floor  an import that goes up or sideways across the floors, or an import of a
//                        library outside its one owner in core/ (each Kafka client library in its
//                        driver folder, the registry client, prom-client, pino, ioredis)
// floors/no-cycle        a file that is part of an import cycle (type-only imports count: a
//                        cycle of types still ties the files to each other)
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

/** Every service, as the folder that holds it. A file under producers/ or processors/ outside these is not on any floor. */
export const SERVICES = [
  'producers/market-data',
  'producers/poll',
  'producers/replay',
  'producers/text',
  'processors/features',
  'processors/sentiment',
  'processors/predictor',
  'trainer',
  'gateway',
];

const TOP = ['cli', 'bench', 'test', 'deployment', 'lint'];

/**
 * Libraries with one owner in core/: everything else goes through the owner, so one place holds
 * each client's settings, error mapping and logging. Each Kafka client library belongs to its
 * driver (core/kafka/driver.ts is the interface the rest of core/kafka uses); bench/ may import
 * either for the raw-client baselines it measures against; tests may import the others (a test
 * builds its own registry).
 */
export const OWNED_PACKAGES = {
  kafkajs: {
    owners: ['core/kafka/drivers/kafkajs', 'bench'],
    tests: false,
    use: 'the driver interface (core/kafka/driver.ts) and the readers, producers and admin of core/kafka',
  },
  '@platformatic/kafka': {
    owners: ['core/kafka/drivers/platformatic', 'bench'],
    tests: false,
    use: 'the driver interface (core/kafka/driver.ts) and the readers, producers and admin of core/kafka',
  },
  '@kafkajs/confluent-schema-registry': { owners: ['core/serde'], tests: true, use: 'core/serde' },
  'prom-client': { owners: ['core/metrics.ts'], tests: true, use: 'core/metrics.ts (counter, gauge, histogram, Registry)' },
  pino: { owners: ['core/logger.ts'], tests: true, use: 'core/logger.ts (createLogger, Logger) and child loggers passed in' },
  ioredis: { owners: ['core/redis.ts'], tests: true, use: 'core/redis.ts (createRedis, Redis)' },
};

const posix = (p) => p.split(sep).join('/');
const under = (path, folder) => path === folder || path.startsWith(`${folder}/`);

/**
 * The floor unit of a path relative to the project root: 'schemas', 'core', a service folder,
 * 'top', 'outside' (not project code: node_modules, config files at the root) or 'unplaced'.
 */
export function unitOf(rel) {
  if (rel.startsWith('..') || rel.startsWith('node_modules/') || !rel.includes('/')) return 'outside';
  if (under(rel, 'schemas')) return 'schemas';
  if (under(rel, 'core')) return 'core';
  if (TOP.some((t) => under(rel, t))) return 'top';
  const service = SERVICES.find((s) => under(rel, s));
  if (service) return service;
  if (under(rel, 'producers') || under(rel, 'processors')) return 'unplaced';
  return 'outside';
}

/** Why `fromRel` may not import `toRel`, or null when it may. */
export function floorViolation(fromRel, toRel) {
  const from = unitOf(fromRel);
  const to = unitOf(toRel);
  if (from === 'top' || from === 'outside' || to === 'outside' || from === to) return null;
  if (from === 'unplaced') return `${fromRel} is on no floor: add its service folder to SERVICES in lint/floors.js`;
  if (from === 'schemas') return `schemas/ imports nothing of the project (${toRel} is in ${to}/)`;
  if (to === 'top') return `${toRel.split('/')[0]}/ sits on top of the floors; ${from}/ may not import it (${toRel})`;
  if (from === 'core') return to === 'schemas' ? null : `core/ imports no service (${toRel} is in ${to}/)`;
  // from is a service
  if (to === 'core' || to === 'schemas') return null;
  return `services import only core/ and schemas/, never each other: ${from}/ may not import ${to}/ (move shared code into a library under core/)`;
}

const IMPORT_RE = /(?:^|[\s;])(?:import|export)\s(?:[^'"]*?\sfrom\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;
const SKIP_DIRS = new Set(['node_modules', 'dist', '.git', '.stack', 'coverage', 'reports', '.models']);

function listSources(root) {
  const out = [];
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) {
        if (!SKIP_DIRS.has(e.name) && !e.name.startsWith('.')) walk(join(dir, e.name));
      } else if (/\.(ts|js)$/.test(e.name) && !e.name.endsWith('.d.ts') && !/\.test\.ts$/.test(e.name)) {
        out.push(join(dir, e.name));
      }
    }
  };
  walk(root);
  return out;
}

/** Relative import targets of a source text, resolved to .ts file paths. */
export function importTargets(file, text) {
  const targets = [];
  for (const m of text.matchAll(IMPORT_RE)) {
    const spec = m[1] ?? m[2];
    if (!spec || !spec.startsWith('.')) continue;
    targets.push(resolve(dirname(file), spec).replace(/\.js$/, '.ts'));
  }
  return targets;
}

/** Strongly connected components with more than one file (or a file importing itself), by Tarjan's algorithm. */
export function findCycles(graph) {
  let index = 0;
  const stack = [];
  const onStack = new Set();
  const idx = new Map();
  const low = new Map();
  const cycles = [];
  const strong = (v) => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!idx.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v), idx.get(w)));
      }
    }
    if (low.get(v) === idx.get(v)) {
      const scc = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) strong(v);
  return cycles;
}

/** The import cycles among the project's source files (tests left out), as absolute paths. */
export function projectCycles(root) {
  const graph = new Map();
  for (const file of listSources(root)) graph.set(file, importTargets(file, readFileSync(file, 'utf8')));
  return findCycles(graph);
}

// The import graph of the whole project is built once per lint run (one process).
const cycleCache = new Map();
function cyclesOf(root) {
  let entry = cycleCache.get(root);
  if (!entry) {
    entry = new Map();
    for (const scc of projectCycles(root)) for (const f of scc) entry.set(f, scc);
    cycleCache.set(root, entry);
  }
  return entry;
}

function importSources(node) {
  if ((node.type === 'ImportDeclaration' || node.type === 'ExportNamedDeclaration' || node.type === 'ExportAllDeclaration') && node.source) return node.source;
  if (node.type === 'ImportExpression' && node.source.type === 'Literal') return node.source;
  return null;
}

const noCrossFloor = {
  meta: {
    type: 'problem',
    docs: {
      description:
        'imports stay on their floor: services use core/ and schemas/ only, core/ uses no service, schemas/ nothing; each Kafka client library only in its driver under core/kafka/drivers/',
    },
    schema: [],
  },
  create(context) {
    const root = context.cwd;
    const file = context.filename;
    const rel = posix(relative(root, file));
    const isTest = /\.test\.ts$/.test(rel);
    const check = (node) => {
      const source = importSources(node);
      if (!source || typeof source.value !== 'string') return;
      const spec = source.value;
      const pkg = Object.keys(OWNED_PACKAGES).find((p) => spec === p || spec.startsWith(`${p}/`));
      if (pkg) {
        const { owners, tests, use } = OWNED_PACKAGES[pkg];
        if (!owners.some((f) => under(rel, f)) && !(isTest && tests)) {
          context.report({ node: source, message: `only ${owners.filter((o) => o !== 'bench').join(', ')} imports ${pkg} (${rel}): use ${use}` });
        }
        return;
      }
      if (isTest || !spec.startsWith('.')) return;
      const target = posix(relative(root, resolve(dirname(file), spec)));
      const why = floorViolation(rel, target);
      if (why) context.report({ node: source, message: why });
    };
    return { ImportDeclaration: check, ExportNamedDeclaration: check, ExportAllDeclaration: check, ImportExpression: check };
  },
};

const noCycle = {
  meta: { type: 'problem', docs: { description: 'no import cycles between files (type imports included)' }, schema: [] },
  create(context) {
    const root = context.cwd;
    const file = context.filename;
    if (/\.test\.ts$/.test(file)) return {};
    const scc = cyclesOf(root).get(file);
    if (!scc) return {};
    const check = (node) => {
      const source = importSources(node);
      if (!source || typeof source.value !== 'string' || !source.value.startsWith('.')) return;
      const target = resolve(dirname(file), source.value).replace(/\.js$/, '.ts');
      if (scc.includes(target)) {
        const names = scc.map((f) => posix(relative(root, f)));
        context.report({
          node: source,
          message: `import cycle: ${posix(relative(root, file))} and ${posix(relative(root, target))} are among ${names.length} files that import each other (${names.join(', ')})`,
        });
      }
    };
    return { ImportDeclaration: check, ExportNamedDeclaration: check, ExportAllDeclaration: check, ImportExpression: check };
  },
};

export default { meta: { name: 'floors' }, rules: { 'no-cross-floor': noCrossFloor, 'no-cycle': noCycle } };
