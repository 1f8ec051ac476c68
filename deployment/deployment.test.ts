// Structural checks of the deployment files: docker-compose.yaml, the Dockerfile, the Kubernetes
// manifests, the Prometheus configuration and the Grafana dashboard. No Docker engine or cluster
// is needed; each check is a pure function over parsed documents, and each is also fed broken
// documents to prove it reports them.
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isDeepStrictEqual } from 'node:util';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { CONFIG_KEYS, loadConfig } from '../core/config.js';
import { topicSpecs } from '../core/kafka/topics.js';
import { errorMessage } from '../core/errors.js';
import { redisConnectionFromConfig, registryConnectionFromConfig } from '../core/connection-security.js';
import { createMetricsRegistry } from '../core/metrics.js';
import { prometheusRuleFile } from './prometheus-rule.js';
import { dashboardQueries, exportedNames, externalNamesExported, metricNamesIn, ruleQueries, unexportedMetrics } from './metric-names.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const K8S_ROOT = join(ROOT, 'deployment', 'kubernetes');
/** The kustomize base: the manifests themselves. */
const K8S_DIR = join(K8S_ROOT, 'base');
const PROM_DIR = join(ROOT, 'deployment', 'prometheus');

/** CLI commands of `node dist/cli/main.js <command>` that a container may run. */
const KNOWN_COMMANDS = ['topics create', 'replay', 'features', 'sentiment', 'predictor', 'gateway', 'trainer', 'market-data', 'news', 'x'] as const;
/** Commands that run to completion and serve no health endpoints. */
const ONE_SHOT_COMMANDS = ['topics create', 'replay'];
const COMPOSE_SERVICES = [
  'kafka',
  'registry',
  'redis',
  'topics',
  'replay',
  'features',
  'sentiment',
  'predictor',
  'gateway',
  'trainer',
  'market-data',
  'news',
  'x',
] as const;
/** Commands whose compose service must run as the Kubernetes Deployment does: the same explicit settings. */
const MIRRORED_COMMANDS = ['trainer', 'market-data', 'news', 'x'];
const TOPICS = ['market.trades', 'market.candles', 'text.raw', 'text.scored', 'features', 'predictions', 'models', 'dlq'];
/**
 * Input topic of each lag-scaled processor; its consumer group is `<BITPREDICT_KAFKA_CLIENT_ID>-<command>`
 * (processors/features/service.ts, processors/sentiment/service.ts, processors/predictor/service.ts).
 */
const PROCESSOR_INPUTS: Record<string, string> = { features: 'market.candles', sentiment: 'text.raw', predictor: 'features' };
const NAMESPACED_KINDS = new Set([
  'ConfigMap',
  'Deployment',
  'Job',
  'Service',
  'Ingress',
  'HorizontalPodAutoscaler',
  'ScaledObject',
  'PersistentVolumeClaim',
  'PodDisruptionBudget',
  'DaemonSet',
  'ServiceAccount',
  'ServiceMonitor',
  'PodMonitor',
  'PrometheusRule',
  'TriggerAuthentication',
  'Kafka',
  'KafkaNodePool',
  'KafkaTopic',
  'KafkaUser',
]);

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function obj(v: unknown): Obj {
  return isObj(v) ? v : {};
}
function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}
function text(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

/** Parses every YAML document of a file; a syntax error or duplicate key is an error naming the file. */
function parseYaml(source: string, name: string): unknown[] {
  // Merge keys (<<: *anchor) are part of the Compose format; enable them as Compose does.
  const docs = parseAllDocuments(source, { merge: true, prettyErrors: false });
  const list = Array.isArray(docs) ? docs : [docs];
  const values: unknown[] = [];
  for (const doc of list) {
    const first = doc.errors[0];
    if (first) throw new Error(`${name}: invalid YAML: ${first.message}`);
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    if (value !== null && value !== undefined) values.push(value);
  }
  return values;
}

function readYaml(path: string): unknown[] {
  return parseYaml(readFileSync(path, 'utf8'), path.slice(ROOT.length + 1));
}

/** Environment of a compose service or container, as strings (YAML may give numbers). */
function composeEnv(service: Obj): Record<string, string> {
  const env = service.environment;
  const out: Record<string, string> = {};
  if (Array.isArray(env)) {
    for (const item of env) {
      const s = text(item) ?? '';
      const eq = s.indexOf('=');
      out[eq < 0 ? s : s.slice(0, eq)] = eq < 0 ? '' : s.slice(eq + 1);
    }
  } else {
    for (const [k, v] of Object.entries(obj(env))) out[k] = text(v) ?? '';
  }
  return out;
}

/** Problems of a BITPREDICT_* environment: unknown keys and values that config validation refuses. */
function checkBitpredictEnv(env: Record<string, string>, where: string): string[] {
  const problems: string[] = [];
  const ours = Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith('BITPREDICT_')));
  for (const key of Object.keys(ours)) {
    if (!(key in CONFIG_KEYS)) problems.push(`${where}: ${key} is not a key of CONFIG_KEYS`);
  }
  try {
    loadConfig(ours);
  } catch (err) {
    problems.push(`${where}: ${errorMessage(err)}`);
  }
  return problems;
}

function commandOf(args: unknown, where: string): string[] {
  const words = arr(args).map((a) => text(a) ?? '');
  const line = words.join(' ');
  return (KNOWN_COMMANDS as readonly string[]).includes(line) ? [] : [`${where}: "${line}" is not a known CLI command`];
}

function durationSeconds(v: unknown): number {
  const s = text(v) ?? '';
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(s);
  if (!m?.[1]) return Number.NaN;
  const n = Number(m[1]);
  return m[2] === 'ms' ? n / 1000 : m[2] === 'm' ? n * 60 : n;
}

function shutdownTimeoutMs(env: Record<string, string>): number {
  return Number(env.BITPREDICT_SHUTDOWN_TIMEOUT_MS ?? CONFIG_KEYS.BITPREDICT_SHUTDOWN_TIMEOUT_MS.default);
}

function checkCompose(doc: unknown): string[] {
  const problems: string[] = [];
  const services = obj(obj(doc).services);
  if (Object.keys(services).length === 0) return ['compose: no services'];
  for (const name of COMPOSE_SERVICES) if (!isObj(services[name])) problems.push(`compose: service ${name} is missing`);
  const images: Record<string, string> = { kafka: 'apache/kafka:4.1.1', registry: 'apicurio/apicurio-registry:3.3.3', redis: 'redis:7-alpine' };
  for (const [name, image] of Object.entries(images)) {
    if (isObj(services[name]) && services[name].image !== image) problems.push(`compose: ${name} must use ${image}`);
  }
  for (const [name, raw] of Object.entries(services)) {
    const svc = obj(raw);
    const env = composeEnv(svc);
    problems.push(...checkBitpredictEnv(env, `compose ${name}`));
    if (svc.restart === undefined) problems.push(`compose ${name}: no restart policy`);
    const deps = svc.depends_on;
    const depEntries: [string, string][] = Array.isArray(deps)
      ? deps.map((d) => [text(d) ?? '', 'service_started'])
      : Object.entries(obj(deps)).map(([d, v]) => [d, text(obj(v).condition) ?? 'service_started']);
    for (const [dep, condition] of depEntries) {
      const target = services[dep];
      if (!isObj(target)) {
        problems.push(`compose ${name}: depends_on ${dep}, which is not a service`);
        continue;
      }
      if (condition === 'service_healthy' && !isObj(target.healthcheck))
        problems.push(`compose ${name}: waits for ${dep} to be healthy, but ${dep} has no healthcheck`);
      if (condition === 'service_completed_successfully' && (target.restart === 'always' || target.restart === 'unless-stopped')) {
        problems.push(`compose ${name}: waits for ${dep} to complete, but ${dep} restarts forever`);
      }
      if (!['service_started', 'service_healthy', 'service_completed_successfully'].includes(condition))
        problems.push(`compose ${name}: unknown condition ${condition}`);
    }
    if (svc.build === undefined) continue;
    const build = obj(svc.build);
    if (build.dockerfile !== 'deployment/Dockerfile' || build.context !== '.')
      problems.push(`compose ${name}: must build from deployment/Dockerfile with context .`);
    problems.push(...commandOf(svc.command, `compose ${name}`));
    const oneShot = ONE_SHOT_COMMANDS.includes(arr(svc.command).join(' '));
    if (!oneShot && !isObj(svc.healthcheck)) problems.push(`compose ${name}: no healthcheck`);
    if (oneShot && (svc.restart === 'always' || svc.restart === 'unless-stopped'))
      problems.push(`compose ${name}: a one-shot must not restart after it succeeds`);
    if (!(durationSeconds(svc.stop_grace_period) * 1000 > shutdownTimeoutMs(env))) {
      problems.push(`compose ${name}: stop_grace_period must exceed BITPREDICT_SHUTDOWN_TIMEOUT_MS`);
    }
    for (const broker of (env.BITPREDICT_KAFKA_BROKERS ?? '').split(',')) {
      const host = broker.split(':')[0] ?? '';
      if (!isObj(services[host])) problems.push(`compose ${name}: broker host ${host} is not a service`);
    }
    const registry = env.BITPREDICT_REGISTRY_URL ?? '';
    if (!registry.endsWith('/apis/ccompat/v7') || !isObj(services[URL.canParse(registry) ? new URL(registry).hostname : ''])) {
      problems.push(`compose ${name}: BITPREDICT_REGISTRY_URL must be a registry service's /apis/ccompat/v7`);
    }
    if (env.BITPREDICT_DATA_DIR === '/data' && !arr(svc.volumes).includes('../shared/data:/data:ro')) {
      problems.push(`compose ${name}: BITPREDICT_DATA_DIR=/data needs the read-only mount ../shared/data:/data:ro`);
    }
  }
  const kafkaEnv = composeEnv(obj(services.kafka));
  for (const key of [
    'KAFKA_NODE_ID',
    'KAFKA_PROCESS_ROLES',
    'KAFKA_LISTENERS',
    'KAFKA_ADVERTISED_LISTENERS',
    'KAFKA_CONTROLLER_LISTENER_NAMES',
    'KAFKA_CONTROLLER_QUORUM_VOTERS',
    'KAFKA_LISTENER_SECURITY_PROTOCOL_MAP',
  ]) {
    if (!kafkaEnv[key]) problems.push(`compose kafka: ${key} is not set`);
  }
  for (const key of [
    'KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR',
    'KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR',
    'KAFKA_TRANSACTION_STATE_LOG_MIN_ISR',
    'KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR',
    'KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR',
  ]) {
    if (kafkaEnv[key] !== '1') problems.push(`compose kafka: ${key} must be 1 on a single node`);
  }
  if (composeEnv(obj(services.registry)).APICURIO_RULES_GLOBAL_COMPATIBILITY !== 'BACKWARD')
    problems.push('compose registry: global compatibility rule must be BACKWARD');
  const gateway = obj(services.gateway);
  const gatewayEnv = composeEnv(gateway);
  const port = gatewayEnv.BITPREDICT_GATEWAY_PORT ?? CONFIG_KEYS.BITPREDICT_GATEWAY_PORT.default;
  if (!arr(gateway.ports).some((p) => text(p) === `${port}:${port}`)) problems.push(`compose gateway: must publish ${port}:${port}`);
  if (gatewayEnv.BITPREDICT_GATEWAY_HOST !== '0.0.0.0') problems.push('compose gateway: BITPREDICT_GATEWAY_HOST must be 0.0.0.0 in a container');
  // Open mode serves anyone who reaches the published port; the gateway refuses it off loopback.
  if ((gatewayEnv.BITPREDICT_GATEWAY_AUTH ?? CONFIG_KEYS.BITPREDICT_GATEWAY_AUTH.default) !== 'keys')
    problems.push('compose gateway: BITPREDICT_GATEWAY_AUTH must be keys on a published port');
  return problems;
}

interface K8sDoc {
  file: string;
  doc: Obj;
}

/**
 * Compose runs the trainer and the live sources as the Kubernetes Deployments do: a service per
 * command, with every BITPREDICT_* value the Deployment sets itself (not from a Secret) equal,
 * the X source only behind a profile (it needs a token), and the trainer's model store on a
 * volume that only the trainer mounts: the predictor reads artifacts from the model-artifacts
 * topic, in compose as in Kubernetes, so neither mounts the store nor waits for it.
 */
function checkComposeMirrorsK8s(compose: unknown, k8s: K8sDoc[]): string[] {
  const problems: string[] = [];
  const services = Object.entries(obj(obj(compose).services)).map(([name, raw]) => ({ name, svc: obj(raw) }));
  for (const command of MIRRORED_COMMANDS) {
    const deployment = k8s.find((d) => d.doc.kind === 'Deployment' && arr(obj(arr(podSpec(d.doc).containers)[0]).args).join(' ') === command);
    if (!deployment) {
      problems.push(`k8s: no Deployment runs ${command}`);
      continue;
    }
    const service = services.find(({ svc }) => arr(svc.command).join(' ') === command);
    if (!service) {
      problems.push(`compose: no service runs ${command}, as Deployment/${text(obj(deployment.doc.metadata).name)} does`);
      continue;
    }
    const env = composeEnv(service.svc);
    for (const e of arr(obj(arr(podSpec(deployment.doc).containers)[0]).env).map(obj)) {
      const key = text(e.name) ?? '';
      if (!key.startsWith('BITPREDICT_') || e.valueFrom !== undefined || key === 'BITPREDICT_MODEL_STORE_DIR') continue;
      if (env[key] !== text(e.value)) problems.push(`compose ${service.name}: ${key}=${env[key] ?? '(unset)'}, the Deployment sets ${text(e.value) ?? ''}`);
    }
  }
  const x = services.find(({ svc }) => arr(svc.command).join(' ') === 'x');
  if (x && arr(x.svc.profiles).length === 0) problems.push(`compose ${x.name}: the X source needs a token: put it behind a profile`);
  const storeOf = (command: string): string | undefined => {
    const s = services.find(({ svc }) => arr(svc.command).join(' ') === command);
    if (!s) return undefined;
    const dir = composeEnv(s.svc).BITPREDICT_MODEL_STORE_DIR;
    const mount = arr(s.svc.volumes)
      .map((v) => text(v) ?? '')
      .find((v) => v.split(':')[1] === dir);
    return dir === undefined || mount === undefined ? undefined : `${mount.split(':')[0] ?? ''}:${dir}`;
  };
  const trainerStore = storeOf('trainer');
  if (trainerStore === undefined) problems.push('compose trainer: BITPREDICT_MODEL_STORE_DIR must be a mounted volume');
  const storeVolume = trainerStore?.split(':')[0];
  const predictor = services.find(({ svc }) => arr(svc.command).join(' ') === 'predictor');
  if (predictor && storeVolume !== undefined) {
    const mounts = (svc: Obj): string[] => arr(svc.volumes).map((v) => (text(v) ?? '').split(':')[0] ?? '');
    if (mounts(predictor.svc).includes(storeVolume))
      problems.push(`compose ${predictor.name}: mounts the trainer's model store ${storeVolume}; artifacts come from the model-artifacts topic`);
    const deps = Array.isArray(predictor.svc.depends_on) ? predictor.svc.depends_on.map((d) => text(d) ?? '') : Object.keys(obj(predictor.svc.depends_on));
    for (const dep of deps) {
      const target = services.find(({ name }) => name === dep);
      if (target && arr(target.svc.command).join(' ') !== 'trainer' && mounts(target.svc).includes(storeVolume))
        problems.push(`compose ${predictor.name}: waits for ${dep}, which only prepares the model store ${storeVolume}`);
    }
  }
  for (const d of k8s.filter((x) => x.doc.kind === 'Deployment' && arr(obj(arr(podSpec(x.doc).containers)[0]).args).join(' ') === 'predictor')) {
    if (arr(podSpec(d.doc).volumes).some((v) => obj(v).persistentVolumeClaim !== undefined))
      problems.push(`k8s Deployment/${text(obj(d.doc.metadata).name)}: mounts a claim; artifacts come from the model-artifacts topic`);
  }
  return problems;
}

function podSpec(doc: Obj): Obj {
  return obj(obj(obj(doc.spec).template).spec);
}

function containerEnv(container: Obj, configMap: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = { ...configMap };
  for (const e of arr(container.env)) {
    const entry = obj(e);
    // A value from a Secret is not known before it is deployed; the default stands in for it.
    if (entry.valueFrom !== undefined) delete env[text(entry.name) ?? ''];
    else env[text(entry.name) ?? ''] = text(entry.value) ?? '';
  }
  return env;
}

function probePortOk(probe: Obj, ports: unknown[]): boolean {
  const port = obj(probe.httpGet).port;
  return ports.some((p) => obj(p).name === port || obj(p).containerPort === port);
}

function checkK8s(docs: K8sDoc[]): string[] {
  const problems: string[] = [];
  for (const { file, doc } of docs) {
    const meta = obj(doc.metadata);
    if (typeof doc.apiVersion !== 'string' || typeof doc.kind !== 'string' || typeof meta.name !== 'string') {
      problems.push(`${file}: every document needs apiVersion, kind and metadata.name`);
      continue;
    }
    if (NAMESPACED_KINDS.has(doc.kind) && meta.namespace !== 'bitpredict') problems.push(`${file} ${doc.kind}/${meta.name}: namespace must be bitpredict`);
  }
  const byKind = (kind: string): Obj[] => docs.filter((d) => d.doc.kind === kind).map((d) => d.doc);
  const configMap: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj(byKind('ConfigMap')[0]?.data))) configMap[k] = text(v) ?? '';
  if (Object.keys(configMap).length === 0) problems.push('k8s: no shared ConfigMap');
  problems.push(...checkBitpredictEnv(configMap, 'k8s ConfigMap'));
  const partitions = Number(configMap.BITPREDICT_TOPIC_PARTITIONS ?? CONFIG_KEYS.BITPREDICT_TOPIC_PARTITIONS.default);

  // BitPredict's own workloads; third-party ones (kafka-exporter) run their image's own command.
  for (const w of [...byKind('Deployment'), ...byKind('Job')].filter(isBitpredict)) {
    const name = `${text(w.kind)}/${text(obj(w.metadata).name)}`;
    const spec = podSpec(w);
    const containers = arr(spec.containers).map(obj);
    if (containers.length === 0) problems.push(`${name}: no containers`);
    for (const c of containers) {
      const env = containerEnv(c, configMap);
      problems.push(...checkBitpredictEnv(env, name));
      problems.push(...commandOf(c.args, name));
      const res = obj(c.resources);
      for (const part of ['requests', 'limits']) {
        for (const r of ['cpu', 'memory']) if (text(obj(res[part])[r]) === undefined) problems.push(`${name}: resources.${part}.${r} missing`);
      }
      const preStop = arr(obj(obj(obj(c.lifecycle).preStop).exec).command).map((x) => text(x));
      const pause = preStop[0] === 'sleep' ? Number(preStop[1]) : 0;
      const grace = Number(spec.terminationGracePeriodSeconds ?? 30);
      if (!(grace * 1000 > shutdownTimeoutMs(env) + pause * 1000))
        problems.push(`${name}: terminationGracePeriodSeconds must exceed BITPREDICT_SHUTDOWN_TIMEOUT_MS plus the preStop pause`);
      if (w.kind !== 'Deployment') continue;
      const ports = arr(c.ports);
      const ready = obj(c.readinessProbe);
      const live = obj(c.livenessProbe);
      if (obj(ready.httpGet).path !== '/readyz' || !probePortOk(ready, ports)) problems.push(`${name}: readinessProbe must GET /readyz on a container port`);
      if (obj(live.httpGet).path !== '/healthz' || !probePortOk(live, ports)) problems.push(`${name}: livenessProbe must GET /healthz on a container port`);
      const annotations = obj(obj(obj(obj(w.spec).template).metadata).annotations);
      const scrapePort = Number(annotations['prometheus.io/port']);
      if (annotations['prometheus.io/scrape'] !== 'true' || !ports.some((p) => obj(p).containerPort === scrapePort)) {
        problems.push(`${name}: prometheus.io scrape annotations must name a container port`);
      }
      const listenPort = arr(c.args)[0] === 'gateway' ? env.BITPREDICT_GATEWAY_PORT : env.BITPREDICT_HEALTH_PORT;
      if (!ports.some((p) => obj(p).containerPort === Number(listenPort)))
        problems.push(`${name}: the port the service listens on (${listenPort}) is not a container port`);
    }
  }

  const deployments = new Map(byKind('Deployment').map((d) => [text(obj(d.metadata).name), d]));
  for (const so of byKind('ScaledObject')) {
    const name = `ScaledObject/${text(obj(so.metadata).name)}`;
    const spec = obj(so.spec);
    const max = Number(spec.maxReplicaCount);
    const min = Number(spec.minReplicaCount ?? 0);
    if (!(max >= 1 && max <= partitions))
      problems.push(`${name}: maxReplicaCount ${text(spec.maxReplicaCount)} must be between 1 and the partition count ${partitions}`);
    if (!(min >= 0 && min <= max)) problems.push(`${name}: minReplicaCount must be <= maxReplicaCount`);
    if (!deployments.has(text(obj(spec.scaleTargetRef).name))) problems.push(`${name}: scaleTargetRef is not a Deployment here`);
    const triggers = arr(spec.triggers).map(obj);
    if (!triggers.some((t) => t.type === 'kafka')) problems.push(`${name}: needs a kafka trigger`);
    // The lag KEDA scales on must be the processor's own group on its own input topic.
    const target = deployments.get(text(obj(spec.scaleTargetRef).name));
    const command = target ? text(arr(obj(arr(podSpec(target).containers)[0]).args)[0]) : undefined;
    const input = command === undefined ? undefined : PROCESSOR_INPUTS[command];
    const clientId = configMap.BITPREDICT_KAFKA_CLIENT_ID ?? CONFIG_KEYS.BITPREDICT_KAFKA_CLIENT_ID.default;
    const prefix = configMap.BITPREDICT_TOPIC_PREFIX ?? '';
    for (const t of triggers) {
      const m = obj(t.metadata);
      if (input !== undefined && t.type === 'kafka') {
        if (text(m.consumerGroup) !== `${clientId}-${command ?? ''}`)
          problems.push(`${name}: consumerGroup ${text(m.consumerGroup)} is not ${clientId}-${command ?? ''}`);
        if (text(m.topic) !== `${prefix}${input}`) problems.push(`${name}: topic ${text(m.topic)} is not the input ${prefix}${input} of ${command ?? ''}`);
      }
      if (!(Number(m.lagThreshold) > 0)) problems.push(`${name}: lagThreshold must be a positive number`);
      if (!TOPICS.includes(`${configMap.BITPREDICT_TOPIC_PREFIX ?? ''}${text(m.topic) ?? ''}`) && !TOPICS.includes(text(m.topic) ?? ''))
        problems.push(`${name}: unknown topic ${text(m.topic)}`);
      if (!text(m.consumerGroup)) problems.push(`${name}: consumerGroup missing`);
      // KEDA resolves bootstrapServersFromEnv in the scaled container's environment.
      const fromEnv =
        m.bootstrapServersFromEnv === 'BITPREDICT_KAFKA_BROKERS' &&
        arr(obj(arr(target ? podSpec(target).containers : [])[0]).env).some((e) => obj(e).name === 'BITPREDICT_KAFKA_BROKERS');
      if (!fromEnv && text(m.bootstrapServers) !== configMap.BITPREDICT_KAFKA_BROKERS)
        problems.push(`${name}: bootstrapServers differ from BITPREDICT_KAFKA_BROKERS`);
    }
  }
  for (const hpa of byKind('HorizontalPodAutoscaler')) {
    const spec = obj(hpa.spec);
    if (!deployments.has(text(obj(spec.scaleTargetRef).name))) problems.push(`HPA/${text(obj(hpa.metadata).name)}: scaleTargetRef is not a Deployment here`);
    if (!arr(spec.metrics).some((m) => obj(obj(m).resource).name === 'cpu')) problems.push(`HPA/${text(obj(hpa.metadata).name)}: must scale on cpu`);
  }
  const services = new Map(byKind('Service').map((s) => [text(obj(s.metadata).name), s]));
  for (const svc of services.values()) {
    const selector = obj(obj(svc.spec).selector);
    const matches = [...deployments.values()].filter((d) =>
      Object.entries(selector).every(([k, v]) => obj(obj(obj(obj(d.spec).template).metadata).labels)[k] === v),
    );
    if (matches.length !== 1) problems.push(`Service/${text(obj(svc.metadata).name)}: selector must match exactly one Deployment`);
  }
  for (const ing of byKind('Ingress')) {
    for (const rule of arr(obj(ing.spec).rules)) {
      for (const path of arr(obj(obj(rule).http).paths)) {
        const backend = obj(obj(obj(path).backend).service);
        const svc = services.get(text(backend.name));
        const portName = text(obj(backend.port).name);
        if (!svc || !arr(obj(svc.spec).ports).some((p) => obj(p).name === portName))
          problems.push(`Ingress/${text(obj(ing.metadata).name)}: backend ${text(backend.name)}:${portName} does not exist`);
      }
    }
  }
  for (const kind of ['Namespace', 'ConfigMap', 'Deployment', 'Service', 'Ingress', 'HorizontalPodAutoscaler', 'ScaledObject', 'Job']) {
    if (byKind(kind).length === 0) problems.push(`k8s: no ${kind}`);
  }
  for (const component of ['features', 'sentiment', 'predictor', 'gateway', 'trainer', 'market-data', 'news']) {
    if (!deployments.has(`bitpredict-${component}`)) problems.push(`k8s: no Deployment bitpredict-${component}`);
  }
  for (const component of ['features', 'sentiment', 'predictor']) {
    if (!byKind('ScaledObject').some((s) => obj(obj(s.spec).scaleTargetRef).name === `bitpredict-${component}`))
      problems.push(`k8s: no ScaledObject for ${component}`);
  }
  if (!byKind('Job').some((j) => arr(obj(arr(podSpec(j).containers)[0]).args).join(' ') === 'topics create')) problems.push('k8s: no Job runs topics create');
  return problems;
}

/** Labels of a Deployment's pods. */
function podLabels(d: Obj): Obj {
  return obj(obj(obj(obj(d.spec).template).metadata).labels);
}

/** A workload running the BitPredict image (app.kubernetes.io/name: bitpredict), not a third-party one. */
function isBitpredict(w: Obj): boolean {
  return podLabels(w)['app.kubernetes.io/name'] === 'bitpredict';
}

/** The shared consumer groups (<BITPREDICT_KAFKA_CLIENT_ID>-<name>) in the services' source: kafka.groupId('<name>'). */
function sharedGroups(sources: string, clientId: string): string[] {
  return [...new Set([...sources.matchAll(/kafka\.groupId\('([\w-]+)'\)/g)].map((m) => `${clientId}-${m[1] ?? ''}`))].sort();
}

/** A private group as privateGroupId makes it (core/kafka/client.ts): `<prefix>-<name>-<instance>-<unique>`. */
const PRIVATE_GROUP_EXAMPLES = [
  'bitpredict-gateway-0-mf1k2x-a1b2c3',
  'bitpredict-predictor-models-1-mf1k2x-a1b2c3',
  'bitpredict-features-text-2-mf1k2x-0f0f0f',
];

/**
 * The kafka-exporter of components/kafka-exporter-external logs in as the services of
 * overlays/external do: bootstrap and username from the one Secret, its password file mounted, the
 * mechanism from the ConfigMap, TLS on; and it watches exactly the shared groups.
 */
function checkKafkaExporter(docs: K8sDoc[], groups: string[]): string[] {
  const problems: string[] = [];
  const deployments = docs.filter((d) => d.doc.kind === 'Deployment' && podLabels(d.doc)['app.kubernetes.io/name'] === 'kafka-exporter').map((d) => d.doc);
  if (deployments.length !== 1) return [`external: needs exactly one kafka-exporter Deployment (found ${deployments.length})`];
  const w = deployments[0] ?? {};
  const where = `Deployment/${text(obj(w.metadata).name)}`;
  const pod = podSpec(w);
  const c = obj(arr(pod.containers)[0]);
  if (!/^danielqsj\/kafka-exporter:v\d+\.\d+\.\d+$/.test(text(c.image) ?? ''))
    problems.push(`${where}: image must be danielqsj/kafka-exporter pinned to a version`);
  const env = (key: string): Obj => obj(obj(arr(c.env).find((e) => obj(e).name === key)).valueFrom);
  const workloadSecret = text(obj(env('BITPREDICT_KAFKA_BROKERS').secretKeyRef).name);
  const serviceSecrets = new Set(
    docs
      .filter((d) => (d.doc.kind === 'Deployment' || d.doc.kind === 'Job') && isBitpredict(d.doc))
      .map((d) =>
        text(
          obj(obj(obj(arr(obj(arr(podSpec(d.doc).containers)[0]).env).find((e) => obj(e).name === 'BITPREDICT_KAFKA_BROKERS')).valueFrom).secretKeyRef).name,
        ),
      ),
  );
  for (const [key, secretKey] of [
    ['BITPREDICT_KAFKA_BROKERS', 'bootstrap'],
    ['BITPREDICT_KAFKA_SASL_USERNAME', 'username'],
  ] as const) {
    const ref = obj(env(key).secretKeyRef);
    if (ref.key !== secretKey || !serviceSecrets.has(text(ref.name))) problems.push(`${where}: ${key} must come from the services' Secret, key ${secretKey}`);
  }
  if (obj(env('BITPREDICT_KAFKA_SASL_MECHANISM').configMapKeyRef).key !== 'BITPREDICT_KAFKA_SASL_MECHANISM')
    problems.push(`${where}: BITPREDICT_KAFKA_SASL_MECHANISM must come from the ConfigMap, as the services' does`);
  const mount = obj(arr(c.volumeMounts).find((m) => obj(m).mountPath === '/etc/kafka/user'));
  const secret = obj(obj(arr(pod.volumes).find((v) => obj(v).name === mount.name)).secret);
  if (secret.secretName !== workloadSecret || !arr(secret.items).some((i) => obj(i).key === 'password'))
    problems.push(`${where}: /etc/kafka/user must mount the password of the services' Secret`);
  const script = arr(c.args)
    .map((a) => text(a) ?? '')
    .join('\n');
  for (const flag of ['--sasl.enabled', '--tls.enabled', '--offset.show-all', '--kafka.server=', '--sasl.password="$(cat /etc/kafka/user/password)"'])
    if (!script.includes(flag)) problems.push(`${where}: the command lacks ${flag}`);
  const filter = /--group\.filter='([^']*)'/.exec(script)?.[1];
  if (filter === undefined) problems.push(`${where}: no --group.filter`);
  else problems.push(...checkGroupRegex(filter, groups, `${where} --group.filter`));
  return problems;
}

/** A group regex (anchored, as kafka-exporter, Strimzi and PromQL =~ apply it) must match exactly the shared groups. */
function checkGroupRegex(pattern: string, groups: string[], where: string): string[] {
  const re = new RegExp(`^(?:${pattern})$`);
  const problems: string[] = [];
  if (groups.length === 0) problems.push(`${where}: no shared groups found in the sources`);
  for (const g of groups) if (!re.test(g)) problems.push(`${where}: does not match the shared group ${g}`);
  for (const g of PRIVATE_GROUP_EXAMPLES) if (re.test(g)) problems.push(`${where}: matches the private group ${g}, whose abandoned offsets would page`);
  return problems;
}

/** Whether a label selector (matchLabels and In/NotIn/Exists/DoesNotExist expressions) selects these labels. */
function selects(selector: Obj, labels: Obj): boolean {
  if (!Object.entries(obj(selector.matchLabels)).every(([k, v]) => labels[k] === v)) return false;
  return arr(selector.matchExpressions).every((raw) => {
    const e = obj(raw);
    const key = text(e.key) ?? '';
    const values = arr(e.values).map((v) => text(v));
    const value = text(labels[key]);
    if (e.operator === 'In') return value !== undefined && values.includes(value);
    if (e.operator === 'NotIn') return value === undefined || !values.includes(value);
    if (e.operator === 'Exists') return value !== undefined;
    return value === undefined;
  });
}

/** Whether an Ingress path of this type would route a request for `url`. */
function ingressRoutes(path: string, type: string, url: string): boolean {
  if (type === 'Exact') return path === url;
  const base = path.replace(/\/+$/, '');
  return base === '' || url === base || url.startsWith(`${base}/`);
}

/** Paths that the gateway serves but that must stay off the public Ingress. */
const PRIVATE_GATEWAY_PATHS = ['/metrics', '/healthz', '/readyz'];

/**
 * Operability: every Deployment has a PodDisruptionBudget that lets a drain proceed at its minimum
 * replica count and spreads over nodes; Jobs clean themselves up; claims name a storage class; the
 * Ingress routes no private path; every long-running pod is scraped with the `component` label;
 * the PrometheusRule carries exactly the groups of rules.yaml.
 */
function checkOperable(docs: K8sDoc[], rules: unknown): string[] {
  const problems: string[] = [];
  const byKind = (kind: string): Obj[] => docs.filter((d) => d.doc.kind === kind).map((d) => d.doc);
  const nameOf = (d: Obj): string => text(obj(d.metadata).name) ?? '';
  const minReplicas = (name: string, d: Obj): number => {
    const so = byKind('ScaledObject').find((s) => obj(obj(s.spec).scaleTargetRef).name === name);
    const hpa = byKind('HorizontalPodAutoscaler').find((h) => obj(obj(h.spec).scaleTargetRef).name === name);
    return Number(so ? (obj(so.spec).minReplicaCount ?? 0) : hpa ? (obj(hpa.spec).minReplicas ?? 1) : (obj(d.spec).replicas ?? 1));
  };
  for (const d of byKind('Deployment')) {
    const name = nameOf(d);
    const labels = podLabels(d);
    const pdbs = byKind('PodDisruptionBudget').filter((p) => selects(obj(obj(p.spec).selector), labels));
    if (pdbs.length !== 1) problems.push(`Deployment/${name}: needs exactly one PodDisruptionBudget selecting its pods (found ${pdbs.length})`);
    for (const p of pdbs) {
      const spec = obj(p.spec);
      const replicas = minReplicas(name, d);
      const maxUnavailable = text(spec.maxUnavailable);
      const minAvailable = text(spec.minAvailable);
      // A budget that allows no eviction at the minimum replica count blocks every node drain.
      const blocks =
        maxUnavailable !== undefined
          ? maxUnavailable === '0' || maxUnavailable === '0%'
          : minAvailable === undefined || minAvailable.endsWith('%')
            ? minAvailable !== undefined && Math.ceil((replicas * Number(minAvailable.slice(0, -1))) / 100) >= replicas
            : Number(minAvailable) >= replicas;
      if (blocks) problems.push(`PodDisruptionBudget/${nameOf(p)}: allows no eviction at ${replicas} replica(s) of ${name}, so it blocks node drains`);
    }
    const spread = arr(podSpec(d).topologySpreadConstraints).map(obj);
    if (!spread.some((c) => c.topologyKey === 'kubernetes.io/hostname'))
      problems.push(`Deployment/${name}: no topologySpreadConstraints over kubernetes.io/hostname`);
    for (const c of spread)
      if (!selects(obj(c.labelSelector), labels)) problems.push(`Deployment/${name}: a topologySpreadConstraint does not select its own pods`);
  }
  for (const j of byKind('Job')) {
    if (typeof obj(j.spec).ttlSecondsAfterFinished !== 'number')
      problems.push(`Job/${nameOf(j)}: no ttlSecondsAfterFinished, so a finished Job blocks re-applying a new image`);
  }
  for (const pvc of byKind('PersistentVolumeClaim')) {
    if (!text(obj(pvc.spec).storageClassName)) problems.push(`PersistentVolumeClaim/${nameOf(pvc)}: storageClassName must be stated`);
  }
  for (const ing of byKind('Ingress')) {
    for (const rule of arr(obj(ing.spec).rules)) {
      for (const raw of arr(obj(obj(rule).http).paths)) {
        const path = obj(raw);
        for (const url of PRIVATE_GATEWAY_PATHS) {
          if (ingressRoutes(text(path.path) ?? '/', text(path.pathType) ?? 'Prefix', url))
            problems.push(`Ingress/${nameOf(ing)}: path ${text(path.path)} (${text(path.pathType)}) routes ${url} to the public`);
        }
      }
    }
  }
  const relabelsComponent = (endpoint: unknown): boolean =>
    arr(obj(endpoint).relabelings).some(
      (r) => obj(r).targetLabel === 'component' && arr(obj(r).sourceLabels).includes('__meta_kubernetes_pod_label_app_kubernetes_io_component'),
    );
  const services = byKind('Service');
  for (const d of byKind('Deployment')) {
    const labels = podLabels(d);
    const ports = arr(obj(arr(podSpec(d).containers)[0]).ports).map((p) => text(obj(p).name));
    const viaPod = byKind('PodMonitor').some(
      (m) =>
        selects(obj(obj(m.spec).selector), labels) &&
        arr(obj(m.spec).podMetricsEndpoints).some((e) => ports.includes(text(obj(e).port)) && relabelsComponent(e)),
    );
    const viaService = byKind('ServiceMonitor').some((m) =>
      services.some(
        (s) =>
          selects(obj(obj(m.spec).selector), obj(obj(s.metadata).labels)) &&
          Object.entries(obj(obj(s.spec).selector)).every(([k, v]) => labels[k] === v) &&
          arr(obj(m.spec).endpoints).some((e) => arr(obj(s.spec).ports).some((p) => obj(p).name === obj(e).port) && relabelsComponent(e)),
      ),
    );
    if (!viaPod && !viaService) problems.push(`Deployment/${nameOf(d)}: no PodMonitor or ServiceMonitor scrapes it with a component label`);
  }
  const promRules = byKind('PrometheusRule');
  if (promRules.length !== 1) problems.push(`k8s: needs exactly one PrometheusRule (found ${promRules.length})`);
  for (const r of promRules) {
    // Deep equality, not text: kustomize reorders keys.
    if (!isDeepStrictEqual(obj(r.spec).groups, obj(rules).groups))
      problems.push(`PrometheusRule/${nameOf(r)}: differs from deployment/prometheus/rules.yaml; regenerate with npx tsx deployment/prometheus-rule.ts`);
  }
  return problems;
}

/** Topics of docs/topics.md's table: partitions (undefined: BITPREDICT_TOPIC_PARTITIONS) and the topic configs it states. */
function documentedTopics(markdown: string): { name: string; partitions: number | undefined; config: Record<string, string> }[] {
  const section = markdown.slice(markdown.indexOf('## Names, partitions, retention'), markdown.indexOf('## Schemas and wire format'));
  return section
    .split('\n')
    .filter((l) => /^\| `[a-z.-]+` \|/.test(l))
    .map((line) => {
      const cells = line.split('|').map((c) => c.trim());
      const name = (cells[1] ?? '').replaceAll('`', '');
      const partitions = /^\d+$/.test(cells[4] ?? '') ? Number(cells[4]) : undefined;
      const cleanup = cells[5] ?? '';
      const config: Record<string, string> = { 'cleanup.policy': cleanup.split(',')[0]?.trim() ?? '' };
      for (const m of cleanup.matchAll(/`([a-z.]+)=(-?\d+)`/g)) config[m[1] ?? ''] = m[2] ?? '';
      return { name, partitions, config };
    });
}

/**
 * What each service does on Kafka (read from the code: the topics of platform.kafka.topic(...) in
 * each service folder, DLQ writes in core/kafka/dlq.ts), so each KafkaUser's ACLs can be held to
 * exactly this: Read and Write on nothing else.
 */
const KAFKA_ACCESS: Record<string, { reads: string[]; writes: string[] }> = {
  topics: { reads: [], writes: [] },
  replay: { reads: ['market.candles'], writes: ['market.candles', 'dlq'] },
  'market-data': { reads: ['market.candles'], writes: ['market.candles', 'dlq'] },
  news: { reads: ['text.raw'], writes: ['text.raw', 'dlq'] },
  x: { reads: ['text.raw'], writes: ['text.raw', 'dlq'] },
  sentiment: { reads: ['text.raw'], writes: ['text.scored', 'dlq'] },
  features: { reads: ['market.candles', 'text.scored'], writes: ['features', 'dlq'] },
  predictor: { reads: ['features', 'models', 'model-artifacts'], writes: ['predictions', 'dlq'] },
  trainer: { reads: ['features', 'predictions', 'models'], writes: ['scores', 'models', 'model-artifacts', 'dlq'] },
  gateway: { reads: ['market.candles', 'features', 'predictions', 'scores', 'models'], writes: [] },
};

/**
 * The Strimzi overlay: a KRaft Kafka with a TLS + SCRAM-SHA-512 listener and simple authorization,
 * a KafkaTopic per documented topic with its partitions and configs, a KafkaUser per service whose
 * topic ACLs are exactly what the service reads and writes, and every workload logging in as its
 * user with the password and cluster CA mounted where the ConfigMap points. kubernetes-models
 * checks the schemas; this checks what a schema cannot: that the pieces fit together.
 */
function checkStrimzi(docs: K8sDoc[], topicsMarkdown: string): string[] {
  const problems: string[] = [];
  const byKind = (kind: string): Obj[] => docs.filter((d) => d.doc.kind === kind).map((d) => d.doc);
  const nameOf = (d: Obj): string => text(obj(d.metadata).name) ?? '';
  for (const { doc } of docs) {
    if (['Kafka', 'KafkaNodePool', 'KafkaTopic', 'KafkaUser'].includes(text(doc.kind) ?? '') && doc.apiVersion !== 'kafka.strimzi.io/v1beta2')
      problems.push(`${text(doc.kind)}/${nameOf(doc)}: apiVersion must be kafka.strimzi.io/v1beta2`);
  }
  const [kafka, ...more] = byKind('Kafka');
  if (!kafka || more.length > 0) return [...problems, 'strimzi: needs exactly one Kafka'];
  const cluster = nameOf(kafka);
  const spec = obj(obj(kafka.spec).kafka);
  const listener = arr(spec.listeners)
    .map(obj)
    .find((l) => l.tls === true && obj(l.authentication).type === 'scram-sha-512');
  if (!listener) problems.push(`Kafka/${cluster}: needs a TLS listener with scram-sha-512 authentication`);
  if (obj(spec.authorization).type !== 'simple') problems.push(`Kafka/${cluster}: authorization must be simple, or the ACLs are not enforced`);
  const pools = byKind('KafkaNodePool').filter((p) => obj(obj(p.metadata).labels)['strimzi.io/cluster'] === cluster);
  const roles = new Set(pools.flatMap((p) => arr(obj(p.spec).roles).map((r) => text(r))));
  if (!roles.has('controller') || !roles.has('broker')) problems.push(`Kafka/${cluster}: KRaft needs node pools with the controller and broker roles`);
  for (const o of [...byKind('KafkaTopic'), ...byKind('KafkaUser'), ...byKind('KafkaNodePool')]) {
    if (obj(obj(o.metadata).labels)['strimzi.io/cluster'] !== cluster)
      problems.push(`${text(o.kind)}/${nameOf(o)}: label strimzi.io/cluster must be ${cluster}`);
  }

  const configMap: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj(byKind('ConfigMap')[0]?.data))) configMap[k] = text(v) ?? '';
  const brokers = `${cluster}-kafka-bootstrap:${text(listener?.port) ?? ''}`;
  if (configMap.BITPREDICT_KAFKA_BROKERS !== brokers) problems.push(`ConfigMap: BITPREDICT_KAFKA_BROKERS must be ${brokers}`);
  if (configMap.BITPREDICT_KAFKA_SECURITY_PROTOCOL !== 'SASL_SSL') problems.push('ConfigMap: BITPREDICT_KAFKA_SECURITY_PROTOCOL must be SASL_SSL');
  if (configMap.BITPREDICT_KAFKA_SASL_MECHANISM !== 'SCRAM-SHA-512') problems.push('ConfigMap: BITPREDICT_KAFKA_SASL_MECHANISM must be SCRAM-SHA-512');

  const topics = new Map(byKind('KafkaTopic').map((t) => [text(obj(t.spec).topicName) ?? nameOf(t), obj(t.spec)]));
  const partitions = Number(configMap.BITPREDICT_TOPIC_PARTITIONS);
  const replication = Number(configMap.BITPREDICT_TOPIC_REPLICATION);
  for (const documented of documentedTopics(topicsMarkdown)) {
    const t = topics.get(documented.name);
    if (!t) {
      problems.push(`strimzi: no KafkaTopic ${documented.name}`);
      continue;
    }
    const want = documented.partitions ?? partitions;
    if (t.partitions !== want) problems.push(`KafkaTopic/${documented.name}: partitions ${text(t.partitions)}, docs/topics.md says ${want}`);
    if (t.replicas !== replication) problems.push(`KafkaTopic/${documented.name}: replicas must be BITPREDICT_TOPIC_REPLICATION (${replication})`);
    for (const [k, v] of Object.entries(documented.config)) {
      if (text(obj(t.config)[k]) !== v) problems.push(`KafkaTopic/${documented.name}: ${k} must be ${v} (docs/topics.md)`);
    }
  }

  const users = new Map(byKind('KafkaUser').map((u) => [nameOf(u), obj(u.spec)]));
  for (const [name, u] of users) {
    if (obj(u.authentication).type !== 'scram-sha-512') problems.push(`KafkaUser/${name}: authentication must be scram-sha-512`);
    for (const a of arr(obj(u.authorization).acls).map(obj)) {
      const ops = arr(a.operations).map((o) => text(o));
      if (ops.includes('All') || text(obj(a.resource).name) === '*') problems.push(`KafkaUser/${name}: no All operations or * resources (least privilege)`);
    }
  }
  const passwordDir = dirname(configMap.BITPREDICT_KAFKA_SASL_PASSWORD_FILE ?? '');
  const caDir = dirname(configMap.BITPREDICT_KAFKA_SSL_CA_FILE ?? '');
  for (const w of [...byKind('Deployment'), ...byKind('Job')]) {
    const where = `${text(w.kind)}/${nameOf(w)}`;
    const pod = podSpec(w);
    const container = obj(arr(pod.containers)[0]);
    const command = arr(container.args)
      .map((a) => text(a))
      .join(' ');
    const component = command === 'topics create' ? 'topics' : command;
    const user = text(obj(arr(container.env).find((e) => obj(e).name === 'BITPREDICT_KAFKA_SASL_USERNAME')).value) ?? '';
    const acls = arr(obj(users.get(user)?.authorization).acls).map(obj);
    if (!users.has(user)) {
      problems.push(`${where}: BITPREDICT_KAFKA_SASL_USERNAME ${user || '(unset)'} is not a KafkaUser`);
      continue;
    }
    const mountOf = (dir: string): string | undefined => text(obj(arr(container.volumeMounts).find((m) => obj(m).mountPath === dir)).name);
    const secretOf = (volume: string | undefined): string | undefined => text(obj(obj(arr(pod.volumes).find((v) => obj(v).name === volume)).secret).secretName);
    if (secretOf(mountOf(passwordDir)) !== user) problems.push(`${where}: ${passwordDir} must mount the Secret ${user}`);
    if (secretOf(mountOf(caDir)) !== `${cluster}-cluster-ca-cert`) problems.push(`${where}: ${caDir} must mount the Secret ${cluster}-cluster-ca-cert`);
    const access = KAFKA_ACCESS[component];
    if (!access) {
      problems.push(`${where}: no known Kafka access for ${command}`);
      continue;
    }
    const granted = (op: string): string[] =>
      acls
        .filter((a) => obj(a.resource).type === 'topic' && arr(a.operations).includes(op))
        .map((a) => text(obj(a.resource).name) ?? '')
        .sort();
    for (const [op, want] of [
      ['Read', access.reads],
      ['Write', access.writes],
    ] as const) {
      if (JSON.stringify(granted(op)) !== JSON.stringify([...want].sort()))
        problems.push(`KafkaUser/${user}: ${op} on topics [${granted(op).join(', ')}], ${command} needs exactly [${[...want].sort().join(', ')}]`);
    }
    // Every worker checks at start that all topics exist (listTopics), which needs Describe on each.
    const described = new Set(granted('Describe'));
    const undescribed = documentedTopics(topicsMarkdown)
      .map((t) => t.name)
      .filter((t) => !described.has(t));
    if (undescribed.length > 0) problems.push(`KafkaUser/${user}: no Describe on [${undescribed.join(', ')}], which ${command} checks at start`);
    if (access.reads.length > 0 && !acls.some((a) => obj(a.resource).type === 'group' && arr(a.operations).includes('Read')))
      problems.push(`KafkaUser/${user}: reads topics but may use no consumer group`);
  }
  const auths = new Set(byKind('TriggerAuthentication').map(nameOf));
  for (const so of byKind('ScaledObject')) {
    for (const t of arr(obj(so.spec).triggers).map(obj)) {
      const m = obj(t.metadata);
      if (!auths.has(text(obj(t.authenticationRef).name) ?? '') || m.sasl !== 'scram_sha512' || m.tls !== 'enable')
        problems.push(`ScaledObject/${nameOf(so)}: needs sasl scram_sha512, tls enable and an existing TriggerAuthentication`);
    }
  }
  return problems;
}

/** KEDA's name for a SASL mechanism of BITPREDICT_KAFKA_SASL_MECHANISM. */
const KEDA_SASL: Record<string, string> = { PLAIN: 'plaintext', 'SCRAM-SHA-256': 'scram_sha256', 'SCRAM-SHA-512': 'scram_sha512' };

/**
 * The external overlay: a managed Kafka over SASL_SSL whose bootstrap addresses, user and password
 * all come from one Secret, for every workload and for KEDA, so nothing of the cluster is written
 * in the repository and the addresses are set in one place.
 */
function checkExternal(docs: K8sDoc[]): string[] {
  const problems: string[] = [];
  const byKind = (kind: string): Obj[] => docs.filter((d) => d.doc.kind === kind).map((d) => d.doc);
  const nameOf = (d: Obj): string => text(obj(d.metadata).name) ?? '';
  const configMap: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj(byKind('ConfigMap')[0]?.data))) configMap[k] = text(v) ?? '';
  if ('BITPREDICT_KAFKA_BROKERS' in configMap) problems.push('ConfigMap: BITPREDICT_KAFKA_BROKERS must come from the Secret, not the ConfigMap');
  if (configMap.BITPREDICT_KAFKA_SECURITY_PROTOCOL !== 'SASL_SSL') problems.push('ConfigMap: BITPREDICT_KAFKA_SECURITY_PROTOCOL must be SASL_SSL');
  const sasl = KEDA_SASL[configMap.BITPREDICT_KAFKA_SASL_MECHANISM ?? ''];
  if (!sasl) problems.push('ConfigMap: BITPREDICT_KAFKA_SASL_MECHANISM must be PLAIN or SCRAM-SHA-256/512');
  const passwordDir = dirname(configMap.BITPREDICT_KAFKA_SASL_PASSWORD_FILE ?? '');
  const secrets = new Set<string>();
  for (const w of [...byKind('Deployment'), ...byKind('Job')].filter(isBitpredict)) {
    const where = `${text(w.kind)}/${nameOf(w)}`;
    const pod = podSpec(w);
    const container = obj(arr(pod.containers)[0]);
    const fromSecret = (key: string): Obj => obj(obj(obj(arr(container.env).find((e) => obj(e).name === key)).valueFrom).secretKeyRef);
    for (const [key, secretKey] of [
      ['BITPREDICT_KAFKA_BROKERS', 'bootstrap'],
      ['BITPREDICT_KAFKA_SASL_USERNAME', 'username'],
    ]) {
      const ref = fromSecret(key ?? '');
      if (ref.key !== secretKey) problems.push(`${where}: ${key} must come from a Secret's key ${secretKey}`);
      else secrets.add(text(ref.name) ?? '');
    }
    const volume = text(obj(arr(container.volumeMounts).find((m) => obj(m).mountPath === passwordDir)).name);
    const secret = obj(obj(arr(pod.volumes).find((v) => obj(v).name === volume)).secret);
    if (!arr(secret.items).some((i) => obj(i).key === 'password')) problems.push(`${where}: ${passwordDir} must mount the Secret's key password`);
    secrets.add(text(secret.secretName) ?? '');
  }
  if (secrets.size !== 1) problems.push(`external: every workload must read one Secret (found ${[...secrets].join(', ')})`);
  const auths = new Map(byKind('TriggerAuthentication').map((a) => [nameOf(a), obj(a.spec)]));
  for (const so of byKind('ScaledObject')) {
    for (const t of arr(obj(so.spec).triggers).map(obj)) {
      const m = obj(t.metadata);
      const auth = auths.get(text(obj(t.authenticationRef).name) ?? '');
      const refs = arr(auth?.secretTargetRef).map(obj);
      const fromOurSecret = ['username', 'password'].every((p) => refs.some((r) => r.parameter === p && secrets.has(text(r.name) ?? '')));
      if (m.bootstrapServersFromEnv !== 'BITPREDICT_KAFKA_BROKERS' || m.sasl !== sasl || m.tls !== 'enable' || !fromOurSecret)
        problems.push(
          `ScaledObject/${nameOf(so)}: needs bootstrapServersFromEnv BITPREDICT_KAFKA_BROKERS, sasl ${sasl ?? '?'}, tls enable and the Secret's user`,
        );
    }
  }
  return problems;
}

/** The Secrets that hold the schema registry's and Redis' credentials, and where every workload finds them. */
const CONNECTION_SECRETS = [
  { prefix: 'BITPREDICT_REGISTRY', secret: 'bitpredict-registry', dir: '/etc/bitpredict/registry' },
  { prefix: 'BITPREDICT_REDIS', secret: 'bitpredict-redis', dir: '/etc/bitpredict/redis' },
] as const;
const CONNECTION_FILE_KEYS = ['_PASSWORD_FILE', '_SSL_CA_FILE', '_SSL_CERT_FILE', '_SSL_KEY_FILE'] as const;

/**
 * Registry and Redis credentials come from Secrets, in the base and every overlay: each workload
 * takes the user name from the Secret (env) and mounts the Secret, both optional so a cluster
 * without credentials still starts; the ConfigMap holds no password (nor one in a URL), and every
 * file it names lies in the folder where the matching Secret is mounted.
 */
function checkConnectionSecrets(docs: K8sDoc[]): string[] {
  const problems: string[] = [];
  const byKind = (kind: string): Obj[] => docs.filter((d) => d.doc.kind === kind).map((d) => d.doc);
  const nameOf = (d: Obj): string => text(obj(d.metadata).name) ?? '';
  const configMap: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj(byKind('ConfigMap')[0]?.data))) configMap[k] = text(v) ?? '';
  for (const { prefix, secret, dir } of CONNECTION_SECRETS) {
    if (configMap[`${prefix}_PASSWORD`]) problems.push(`ConfigMap: ${prefix}_PASSWORD is a credential: put it in the Secret ${secret}`);
    const url = configMap[`${prefix}_URL`] ?? '';
    if (URL.canParse(url) && (new URL(url).username !== '' || new URL(url).password !== ''))
      problems.push(`ConfigMap: ${prefix}_URL holds a login: put it in the Secret ${secret}`);
    for (const suffix of CONNECTION_FILE_KEYS) {
      const path = configMap[`${prefix}${suffix}`];
      if (path && dirname(path) !== dir) problems.push(`ConfigMap: ${prefix}${suffix}=${path} is not in ${dir}, where the Secret ${secret} is mounted`);
    }
  }
  // Only BitPredict's own workloads talk to the registry and Redis (kafka-exporter does not).
  for (const w of [...byKind('Deployment'), ...byKind('Job')].filter(isBitpredict)) {
    const where = `${text(w.kind)}/${nameOf(w)}`;
    const pod = podSpec(w);
    for (const container of arr(pod.containers).map(obj)) {
      for (const { prefix, secret, dir } of CONNECTION_SECRETS) {
        const ref = obj(obj(obj(arr(container.env).find((e) => obj(e).name === `${prefix}_USERNAME`)).valueFrom).secretKeyRef);
        if (ref.name !== secret || ref.key !== 'username' || ref.optional !== true)
          problems.push(`${where}: ${prefix}_USERNAME must come from the Secret ${secret}, key username, optional`);
        const volume = text(obj(arr(container.volumeMounts).find((m) => obj(m).mountPath === dir)).name);
        const source = obj(obj(arr(pod.volumes).find((v) => obj(v).name === volume)).secret);
        if (volume === undefined || source.secretName !== secret || source.optional !== true)
          problems.push(`${where}: ${dir} must mount the Secret ${secret}, optional`);
      }
    }
  }
  return problems;
}

/** Where the model signing keys live: the Secret, its mount and the key file the workloads name. */
const MODEL_SIGNING = { secret: 'bitpredict-model-signing', dir: '/etc/bitpredict/model-signing', file: '/etc/bitpredict/model-signing/keys' } as const;

/**
 * The model signing keys are required in production: every trainer and predictor names the key
 * file of the Secret bitpredict-model-signing, mounted read-only and not optional (no Secret: the
 * pod does not start), with BITPREDICT_MODEL_SIGNING=required; nothing turns signing off or puts
 * a key in a plain value (ConfigMap or env).
 */
function checkModelSigning(docs: K8sDoc[]): string[] {
  const problems: string[] = [];
  const byKind = (kind: string): Obj[] => docs.filter((d) => d.doc.kind === kind).map((d) => d.doc);
  for (const cm of byKind('ConfigMap')) {
    const data = obj(cm.data);
    if (text(data.BITPREDICT_MODEL_SIGNING) === 'off') problems.push(`ConfigMap/${text(obj(cm.metadata).name) ?? ''}: BITPREDICT_MODEL_SIGNING=off`);
    if (data.BITPREDICT_MODEL_SIGNING_KEY !== undefined)
      problems.push(`ConfigMap/${text(obj(cm.metadata).name) ?? ''}: BITPREDICT_MODEL_SIGNING_KEY is a secret: use the Secret ${MODEL_SIGNING.secret}`);
  }
  let signers = 0;
  for (const w of [...byKind('Deployment'), ...byKind('Job')].filter(isBitpredict)) {
    const where = `${text(w.kind)}/${text(obj(w.metadata).name) ?? ''}`;
    const pod = podSpec(w);
    for (const c of arr(pod.containers).map(obj)) {
      const env = new Map(arr(c.env).map((e) => [text(obj(e).name) ?? '', obj(e)]));
      if (env.has('BITPREDICT_MODEL_SIGNING_KEY')) problems.push(`${where}: BITPREDICT_MODEL_SIGNING_KEY is a secret: use the Secret ${MODEL_SIGNING.secret}`);
      if (text(env.get('BITPREDICT_MODEL_SIGNING')?.value) === 'off') problems.push(`${where}: BITPREDICT_MODEL_SIGNING=off`);
      const command = text(arr(c.args)[0]);
      if (command !== 'trainer' && command !== 'predictor') continue;
      signers++;
      if (text(env.get('BITPREDICT_MODEL_SIGNING')?.value) !== 'required') problems.push(`${where}: BITPREDICT_MODEL_SIGNING must be required`);
      if (text(env.get('BITPREDICT_MODEL_SIGNING_KEY_FILE')?.value) !== MODEL_SIGNING.file)
        problems.push(`${where}: BITPREDICT_MODEL_SIGNING_KEY_FILE must be ${MODEL_SIGNING.file}`);
      const mount = obj(arr(c.volumeMounts).find((m) => obj(m).mountPath === MODEL_SIGNING.dir));
      const source = obj(obj(arr(pod.volumes).find((v) => obj(v).name === mount.name)).secret);
      if (mount.readOnly !== true || source.secretName !== MODEL_SIGNING.secret || source.optional === true)
        problems.push(`${where}: ${MODEL_SIGNING.dir} must mount the Secret ${MODEL_SIGNING.secret}, read-only, not optional`);
    }
  }
  if (signers < 2) problems.push(`only ${signers} trainer/predictor workloads found`);
  return problems;
}

/** The ConfigMap patch of docs/deploy.md, "Registry and Redis credentials": the settings an operator adds. */
function documentedCredentialSettings(markdown: string): Record<string, string> {
  const section = markdown.slice(markdown.indexOf('## Registry and Redis credentials'));
  const block = /```yaml\n([\s\S]*?)```/.exec(section.slice(0, section.indexOf('\n## ', 3)))?.[1];
  if (block === undefined) throw new Error('docs/deploy.md: no yaml block under "Registry and Redis credentials"');
  const patch = parseYaml(text(obj(arr(obj(parseYaml(block, 'docs/deploy.md')[0]).patches)[0]).patch) ?? '', 'docs/deploy.md patch')[0];
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj(obj(patch).data))) data[k] = text(v) ?? '';
  return data;
}

const REQUIRED_ALERT_METRICS = [
  'bitpredict_consumer_lag_records',
  'bitpredict_dlq_records_total',
  'up{component="gateway"}',
  'bitpredict_predictor_predictions_total',
  'bitpredict_gateway_ws_server_closes_total',
];

function checkRules(doc: unknown): string[] {
  const problems: string[] = [];
  const groups = arr(obj(doc).groups).map(obj);
  if (groups.length === 0) return ['rules: no groups'];
  const names = new Set<string>();
  const exprs: string[] = [];
  for (const g of groups) {
    for (const r of arr(g.rules).map(obj)) {
      const alert = text(r.alert);
      const expr = text(r.expr);
      if (!alert || !expr?.trim()) {
        problems.push(`rules ${text(g.name)}: every rule needs alert and expr`);
        continue;
      }
      if (names.has(alert)) problems.push(`rules: duplicate alert ${alert}`);
      names.add(alert);
      exprs.push(expr);
      if (!['warning', 'critical'].includes(text(obj(r.labels).severity) ?? '')) problems.push(`rules ${alert}: severity must be warning or critical`);
      if (!text(obj(r.annotations).summary)) problems.push(`rules ${alert}: annotations.summary missing`);
      if (r.for !== undefined && Number.isNaN(durationSeconds(r.for))) problems.push(`rules ${alert}: bad for duration`);
    }
  }
  for (const metric of REQUIRED_ALERT_METRICS) if (!exprs.some((e) => e.includes(metric))) problems.push(`rules: no alert uses ${metric}`);
  return problems;
}

/** Source text of the services (tests excluded), to check that alerts and panels query real metrics. */
function serviceSources(): string {
  const parts: string[] = [];
  for (const dir of ['core', 'producers', 'processors', 'trainer', 'gateway']) {
    const base = join(ROOT, dir);
    if (!existsSync(base)) continue;
    for (const f of readdirSync(base, { recursive: true, encoding: 'utf8' })) {
      if (f.endsWith('.ts') && !f.endsWith('.test.ts')) parts.push(readFileSync(join(base, f), 'utf8'));
    }
  }
  return parts.join('\n');
}

/**
 * Metric names in PromQL that no service defines: a default metric (bitpredict_process_*) must be
 * one that a registry made by createMetricsRegistry really exports, any other bitpredict_* name
 * must be written in the services' source (histograms: its _bucket/_sum/_count). The full check,
 * against the /metrics of services running on the real stack, is
 * test/integration/exported-metrics.test.ts.
 */
function unknownMetrics(exprs: string[], sources: string, defaults: ReadonlySet<string>): string[] {
  const names = new Set(exprs.flatMap((e) => metricNamesIn(e)).filter((n) => n.startsWith('bitpredict_')));
  const defined = (n: string): boolean => {
    if (n.startsWith('bitpredict_process_')) return defaults.has(n);
    const base = n.replace(/_(bucket|sum|count)$/, '');
    return sources.includes(`'${n}'`) || (base !== n && sources.includes(`'${base}'`));
  };
  return [...names].filter((n) => !defined(n)).sort();
}

function ruleExprs(doc: unknown): string[] {
  return arr(obj(doc).groups).flatMap((g) => arr(obj(g).rules).map((r) => text(obj(r).expr) ?? ''));
}

function loadK8s(): K8sDoc[] {
  const files = readdirSync(K8S_DIR).filter((f) => f.endsWith('.yaml'));
  return files.flatMap((f) => readYaml(join(K8S_DIR, f)).map((doc) => ({ file: f, doc: obj(doc) })));
}

function composeTool(): string[] | undefined {
  for (const candidate of [['docker', 'compose'], ['docker-compose']]) {
    const [bin, ...args] = candidate as [string, ...string[]];
    const r = spawnSync(bin, [...args, 'version'], { encoding: 'utf8', timeout: 15_000 });
    if (r.status === 0) return candidate;
  }
  return undefined;
}

const COMPOSE_TOOL = composeTool();

describe('docker-compose.yaml', () => {
  const [compose] = readYaml(join(ROOT, 'docker-compose.yaml'));

  it('has every service, built from the Dockerfile, with known commands, valid env and existing dependencies', () => {
    expect(checkCompose(compose)).toEqual([]);
  });

  it('reports unknown keys, bad values, unknown commands and broken dependencies', () => {
    const broken = structuredClone(obj(compose));
    const services = obj(broken.services);
    obj(services.features).environment = { ...obj(obj(services.features).environment), BITPREDICT_HEALTH_PRT: '9464', BITPREDICT_LOG_LEVEL: 'loud' };
    obj(services.predictor).command = ['predict'];
    obj(services.gateway).depends_on = { kafak: { condition: 'service_healthy' }, redis: { condition: 'service_healthy' } };
    delete obj(services.redis).healthcheck;
    obj(services.topics).restart = 'always';
    obj(services.replay).stop_grace_period = '10s';
    const problems = checkCompose(broken).join('\n');
    expect(problems).toContain('BITPREDICT_HEALTH_PRT is not a key of CONFIG_KEYS');
    expect(problems).toContain('BITPREDICT_LOG_LEVEL: "loud"');
    expect(problems).toContain('"predict" is not a known CLI command');
    expect(problems).toContain('depends_on kafak, which is not a service');
    expect(problems).toContain('redis has no healthcheck');
    expect(problems).toContain('topics restarts forever');
    expect(problems).toContain('compose replay: stop_grace_period must exceed');
  });

  it('runs the trainer and the live sources as the Kubernetes base does', () => {
    const k8s = [...loadK8s(), ...readYaml(join(K8S_ROOT, 'components', 'x-source', 'x.yaml')).map((doc) => ({ file: 'x.yaml', doc: obj(doc) }))];
    expect(checkComposeMirrorsK8s(compose, k8s)).toEqual([]);
    const broken = structuredClone(obj(compose));
    const services = obj(broken.services);
    obj(services.news).environment = { ...obj(obj(services.news).environment), BITPREDICT_RSS_POLL_INTERVAL_MS: '60000' };
    delete services['market-data'];
    delete obj(services.x).profiles;
    obj(services.predictor).volumes = ['../shared/data:/data:ro', 'models:/models:ro'];
    obj(services.predictor).depends_on = { ...obj(obj(services.predictor).depends_on), 'models-volume': { condition: 'service_completed_successfully' } };
    const k8sBroken = structuredClone(k8s);
    const predictorDeployment = k8sBroken.find((d) => d.doc.kind === 'Deployment' && obj(d.doc.metadata).name === 'bitpredict-predictor');
    if (!predictorDeployment) throw new Error('fixture lacks Deployment/bitpredict-predictor');
    podSpec(predictorDeployment.doc).volumes = [
      ...arr(podSpec(predictorDeployment.doc).volumes),
      { name: 'models', persistentVolumeClaim: { claimName: 'bitpredict-models' } },
    ];
    const problems = checkComposeMirrorsK8s(broken, k8sBroken).join('\n');
    expect(problems).toContain('compose news: BITPREDICT_RSS_POLL_INTERVAL_MS=60000, the Deployment sets 300000');
    expect(problems).toContain('compose: no service runs market-data, as Deployment/bitpredict-market-data does');
    expect(problems).toContain('compose x: the X source needs a token: put it behind a profile');
    expect(problems).toContain("compose predictor: mounts the trainer's model store models; artifacts come from the model-artifacts topic");
    expect(problems).toContain('compose predictor: waits for models-volume, which only prepares the model store models');
    expect(problems).toContain('k8s Deployment/bitpredict-predictor: mounts a claim; artifacts come from the model-artifacts topic');
    delete obj(services.trainer).volumes;
    expect(checkComposeMirrorsK8s(broken, k8s)).toContain('compose trainer: BITPREDICT_MODEL_STORE_DIR must be a mounted volume');
  });

  it('reports a document without services instead of crashing', () => {
    expect(checkCompose(null)).toEqual(['compose: no services']);
    expect(checkCompose('services')).toEqual(['compose: no services']);
    expect(checkCompose({ services: [] })).toEqual(['compose: no services']);
  });

  it.runIf(COMPOSE_TOOL !== undefined)(
    `passes \`${(COMPOSE_TOOL ?? ['docker compose']).join(' ')} config\``,
    () => {
      const [bin, ...args] = COMPOSE_TOOL as [string, ...string[]];
      const ok = spawnSync(bin, [...args, '-f', join(ROOT, 'docker-compose.yaml'), 'config', '-q'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
      expect(ok.stderr).toBe('');
      expect(ok.status).toBe(0);
      // With the X source's profile too (compose parses every service either way; this is the file a user runs).
      const withX = spawnSync(bin, [...args, '-f', join(ROOT, 'docker-compose.yaml'), '--profile', 'x', 'config', '-q'], {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: 60_000,
        env: { ...process.env, X_BEARER_TOKEN: 'token' },
      });
      expect(withX.stderr).toBe('');
      expect(withX.status).toBe(0);
      const dir = mkdtempSync(join(tmpdir(), 'bitpredict-compose-'));
      try {
        writeFileSync(join(dir, 'docker-compose.yaml'), 'services:\n  a:\n    image: x\n    depends_on: [missing]\n');
        const bad = spawnSync(bin, [...args, '-f', join(dir, 'docker-compose.yaml'), 'config', '-q'], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
        expect(bad.status).not.toBe(0);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    120_000,
  ); // three docker-compose runs, each allowed 60 s: past the unit default of 20 s on a loaded machine

  it.skipIf(COMPOSE_TOOL !== undefined)('compose config check skipped: neither `docker compose` nor `docker-compose` is on PATH', () => {
    // .ci/run installs docker-compose: in CI a missing tool is a failure, never a silent skip.
    expect(process.env.CI, 'CI must run `docker-compose config`: apt-get install docker-compose').toBeUndefined();
  });
});

describe('YAML parsing', () => {
  it('names the file on malformed, truncated or duplicated input', () => {
    expect(() => parseYaml('services:\n  a: [1, 2\n', 'x.yaml')).toThrow(/x\.yaml: invalid YAML/);
    expect(() => parseYaml('services:\n  a:\n    image: x\n  a:\n    image: y\n', 'dup.yaml')).toThrow(/dup\.yaml: invalid YAML/);
    const truncated = readFileSync(join(K8S_DIR, 'gateway.yaml'), 'utf8').slice(0, 700) + '\n  "unterminated';
    expect(() => parseYaml(truncated, 'gateway.yaml')).toThrow(/gateway\.yaml: invalid YAML/);
  });

  it('refuses alias bombs', () => {
    const bomb = [
      'a: &a [x, x, x, x, x, x, x, x, x, x]',
      'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]',
      'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]',
      'd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]',
    ].join('\n');
    expect(() => parseYaml(bomb, 'bomb.yaml')).toThrow(/alias/i);
  });
});

describe('deployment/Dockerfile and .dockerignore', () => {
  const dockerfile = readFileSync(join(ROOT, 'deployment', 'Dockerfile'), 'utf8');
  const lines = dockerfile.split('\n').filter((l) => !l.trimStart().startsWith('#'));

  it('builds in stages on node:20-bookworm-slim and runs the CLI as a non-root user', () => {
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:20-bookworm-slim$/m);
    expect(lines.filter((l) => /^FROM \$\{NODE_IMAGE\} AS \w+/.test(l)).map((l) => l.split(' AS ')[1])).toEqual(['build', 'deps', 'runtime']);
    for (const step of ['npm ci --no-audit', 'npm run build', 'npm ci --omit=dev', 'prune.sh node_modules']) expect(lines.join('\n')).toContain(step);
    expect(lines.some((l) => l.startsWith('COPY --from=build') && l.includes('/app/dist'))).toBe(true);
    for (const part of ['node_modules', 'package.json']) expect(lines.some((l) => l.startsWith('COPY --from=deps') && l.includes(`/app/${part}`))).toBe(true);
    const user = lines.filter((l) => l.startsWith('USER ')).at(-1);
    expect(user).toBeDefined();
    expect(user).not.toMatch(/USER (root|0)(:|$)/);
    expect(lines).toContain('STOPSIGNAL SIGTERM');
    expect(lines).toContain('ENTRYPOINT ["node", "dist/cli/main.js"]');
  });

  it('leaves dev tools and, by default, the optional FinBERT runtime out of the runtime image', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
      optionalDependencies: Record<string, string>;
    };
    // The runtime runs dist/ with node: no TypeScript runner or compiler among production dependencies.
    for (const dev of ['tsx', 'typescript', 'vitest', 'esbuild']) {
      expect(pkg.dependencies[dev], dev).toBeUndefined();
      expect(pkg.devDependencies[dev], dev).toBeDefined();
    }
    expect(pkg.dependencies['@huggingface/transformers']).toBeUndefined();
    expect(pkg.optionalDependencies['@huggingface/transformers']).toBeDefined();
    expect(dockerfile).toMatch(/^ARG FINBERT=0$/m);
    expect(dockerfile).toMatch(/if \[ "\$FINBERT" != 1 \]; then drop="\$drop @huggingface\/transformers"/);
    expect(existsSync(join(ROOT, 'deployment', 'image', 'prune.sh'))).toBe(true);
  });

  it('keeps dependencies, build output, the local stack and git out of the context', () => {
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim());
    for (const entry of ['node_modules', 'dist', '.stack', '.git']) expect(ignored).toContain(entry);
  });
});

describe('deployment/kubernetes', () => {
  const docs = loadK8s();

  it('is complete and consistent: probes, resources, grace periods, scaling bounds, wiring', () => {
    expect(checkK8s(docs)).toEqual([]);
    expect(checkConnectionSecrets(docs)).toEqual([]);
    expect(checkModelSigning(docs)).toEqual([]);
  });

  it('finds a trainer or predictor without the model signing Secret, an optional one, and signing turned off', () => {
    const docs = loadK8s();
    const predictor = docs.find((d) => d.doc.kind === 'Deployment' && obj(d.doc.metadata).name === 'bitpredict-predictor');
    const trainer = docs.find((d) => d.doc.kind === 'Deployment' && obj(d.doc.metadata).name === 'bitpredict-trainer');
    if (!predictor || !trainer) throw new Error('no predictor or trainer Deployment');
    const volumes = arr(podSpec(predictor.doc).volumes).map(obj);
    obj(volumes.find((v) => v.name === 'model-signing')?.secret).optional = true;
    const container = obj(arr(podSpec(trainer.doc).containers)[0]);
    container.env = [...arr(container.env).filter((e) => obj(e).name !== 'BITPREDICT_MODEL_SIGNING'), { name: 'BITPREDICT_MODEL_SIGNING', value: 'off' }];
    expect(checkModelSigning(docs)).toEqual([
      'Deployment/bitpredict-predictor: /etc/bitpredict/model-signing must mount the Secret bitpredict-model-signing, read-only, not optional',
      'Deployment/bitpredict-trainer: BITPREDICT_MODEL_SIGNING=off',
      'Deployment/bitpredict-trainer: BITPREDICT_MODEL_SIGNING must be required',
    ]);
  });

  it('lists every manifest in kustomization.yaml', () => {
    const kustomization = obj(readYaml(join(K8S_DIR, 'kustomization.yaml'))[0]);
    const manifests = readdirSync(K8S_DIR)
      .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
      .sort();
    expect(
      arr(kustomization.resources)
        .map((r) => text(r))
        .sort(),
    ).toEqual(manifests);
  });

  it('reports missing probes and resources, short grace periods, too many replicas and bad env', () => {
    const broken = structuredClone(docs);
    const find = (kind: string, name: string): Obj => {
      const hit = broken.find((d) => d.doc.kind === kind && obj(d.doc.metadata).name === name);
      if (!hit) throw new Error(`fixture lacks ${kind}/${name}`);
      return hit.doc;
    };
    const features = obj(arr(podSpec(find('Deployment', 'bitpredict-features')).containers)[0]);
    delete features.readinessProbe;
    delete obj(features.resources).limits;
    features.env = [{ name: 'BITPREDICT_NOT_A_KEY', value: 'x' }];
    podSpec(find('Deployment', 'bitpredict-gateway')).terminationGracePeriodSeconds = 15;
    obj(find('ScaledObject', 'bitpredict-predictor').spec).maxReplicaCount = 5;
    obj(find('ConfigMap', 'bitpredict-config').data).BITPREDICT_TOPIC_PARTITIONS = 'three';
    broken.push({ file: 'extra.yaml', doc: { kind: 'Service', metadata: {} } });
    const problems = checkK8s(broken).join('\n');
    expect(problems).toContain('Deployment/bitpredict-features: readinessProbe must GET /readyz');
    expect(problems).toContain('Deployment/bitpredict-features: resources.limits.cpu missing');
    expect(problems).toContain('BITPREDICT_NOT_A_KEY is not a key of CONFIG_KEYS');
    expect(problems).toContain('Deployment/bitpredict-gateway: terminationGracePeriodSeconds must exceed');
    expect(problems).toContain('BITPREDICT_TOPIC_PARTITIONS: "three" is not an integer');
    expect(problems).toContain('extra.yaml: every document needs apiVersion, kind and metadata.name');
    const capped = structuredClone(docs);
    const so = capped.find((d) => d.doc.kind === 'ScaledObject');
    obj(so?.doc.spec).maxReplicaCount = 4;
    expect(checkK8s(capped).join('\n')).toMatch(/maxReplicaCount 4 must be between 1 and the partition count 3/);
    const miswired = structuredClone(docs);
    const sentiment = miswired.find((d) => d.doc.kind === 'ScaledObject' && obj(d.doc.metadata).name === 'bitpredict-sentiment');
    const trigger = obj(obj(arr(obj(sentiment?.doc.spec).triggers)[0]).metadata);
    trigger.consumerGroup = 'bitpredict-indicators';
    trigger.topic = 'text.scored';
    const wiring = checkK8s(miswired).join('\n');
    expect(wiring).toContain('ScaledObject/bitpredict-sentiment: consumerGroup bitpredict-indicators is not bitpredict-sentiment');
    expect(wiring).toContain('ScaledObject/bitpredict-sentiment: topic text.scored is not the input text.raw of sentiment');
  });

  it('is operable: disruption budgets that let drains proceed, spread, Job TTLs, storage classes, private paths, monitors, rules', () => {
    expect(checkOperable(docs, readYaml(join(PROM_DIR, 'rules.yaml'))[0])).toEqual([]);
  });

  it('reports blocking budgets, missing spread and TTLs, unstated storage, public /metrics, unscraped pods and stale rules', () => {
    const rules = readYaml(join(PROM_DIR, 'rules.yaml'))[0];
    const broken = structuredClone(docs);
    const find = (kind: string, name: string): Obj => {
      const hit = broken.find((d) => d.doc.kind === kind && obj(d.doc.metadata).name === name);
      if (!hit) throw new Error(`fixture lacks ${kind}/${name}`);
      return hit.doc;
    };
    const featuresPdb = obj(find('PodDisruptionBudget', 'bitpredict-features').spec);
    delete featuresPdb.maxUnavailable;
    featuresPdb.minAvailable = 1;
    obj(find('PodDisruptionBudget', 'bitpredict-gateway').spec).maxUnavailable = 0;
    delete podSpec(find('Deployment', 'bitpredict-sentiment')).topologySpreadConstraints;
    delete obj(find('Job', 'bitpredict-replay').spec).ttlSecondsAfterFinished;
    delete obj(find('PersistentVolumeClaim', 'bitpredict-data').spec).storageClassName;
    const ingressPaths = arr(obj(obj(arr(obj(find('Ingress', 'bitpredict-gateway').spec).rules)[0]).http).paths);
    ingressPaths.push({ ...obj(ingressPaths[0]), path: '/', pathType: 'Prefix' });
    obj(find('PodMonitor', 'bitpredict-workers').spec).podMetricsEndpoints = [{ port: 'health', path: '/metrics' }];
    const problems = checkOperable(broken, { groups: [] }).join('\n');
    expect(problems).toContain('PodDisruptionBudget/bitpredict-features: allows no eviction at 1 replica(s) of bitpredict-features');
    expect(problems).toContain('PodDisruptionBudget/bitpredict-gateway: allows no eviction at 2 replica(s)');
    expect(problems).toContain('Deployment/bitpredict-sentiment: no topologySpreadConstraints over kubernetes.io/hostname');
    expect(problems).toContain('Job/bitpredict-replay: no ttlSecondsAfterFinished');
    expect(problems).toContain('PersistentVolumeClaim/bitpredict-data: storageClassName must be stated');
    expect(problems).toContain('Ingress/bitpredict-gateway: path / (Prefix) routes /metrics to the public');
    expect(problems).toContain('Deployment/bitpredict-predictor: no PodMonitor or ServiceMonitor scrapes it with a component label');
    expect(problems).not.toContain('Deployment/bitpredict-gateway: no PodMonitor');
    expect(problems).toContain('PrometheusRule/bitpredict: differs from deployment/prometheus/rules.yaml');
    expect(checkOperable(docs, rules)).toEqual([]);
    expect(ingressRoutes('/v1/', 'Prefix', '/v1')).toBe(true);
    expect(ingressRoutes('/v1/', 'Prefix', '/v10')).toBe(false);
    expect(ingressRoutes('/', 'Exact', '/metrics')).toBe(false);
  });

  it('has a PrometheusRule generated from rules.yaml', () => {
    const generated = parseYaml(prometheusRuleFile(readFileSync(join(PROM_DIR, 'rules.yaml'), 'utf8')), 'generated');
    expect(readYaml(join(K8S_DIR, 'prometheusrule.yaml'))).toEqual(generated);
  });

  it('reports an empty folder instead of crashing', () => {
    const problems = checkK8s([]);
    expect(problems).toContain('k8s: no shared ConfigMap');
    expect(problems).toContain('k8s: no Deployment bitpredict-gateway');
  });
});

/** Kubernetes version whose schemas kubernetes-models 5.1.0 carries (resource.k8s.io/v1 is GA there). */
const K8S_SCHEMA_VERSION = '1.34';
const SCHEMA_DIR = join(ROOT, 'deployment', 'schema-check', 'node_modules');
const SCHEMAS_INSTALLED = existsSync(join(SCHEMA_DIR, 'kubernetes-models', 'package.json'));
const KUBECTL = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8', timeout: 15_000 }).status === 0;
/** The base and every overlay: each must render on its own. */
const KUSTOMIZATIONS = [
  K8S_ROOT,
  K8S_DIR,
  ...(existsSync(join(K8S_ROOT, 'overlays')) ? readdirSync(join(K8S_ROOT, 'overlays')).map((d) => join(K8S_ROOT, 'overlays', d)) : []),
];

/** Optional kustomize Components: each is rendered on top of the base. */
const COMPONENTS = existsSync(join(K8S_ROOT, 'components')) ? readdirSync(join(K8S_ROOT, 'components')).map((d) => join(K8S_ROOT, 'components', d)) : [];

function kustomize(dir: string): K8sDoc[] {
  const r = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`kubectl kustomize ${dir}: ${r.stderr}`);
  const where = `rendered ${dir.slice(ROOT.length + 1)}`;
  return parseYaml(r.stdout, where).map((doc) => ({ file: where, doc: obj(doc) }));
}

/** The base with one Component added, as an overlay that includes it would render. */
/** The kustomization a Component is meant for: a `-<overlay>` suffix names an overlay, else the base. */
function componentBase(component: string): string {
  const overlay = /-(\w+)$/.exec(component)?.[1];
  return overlay !== undefined && existsSync(join(K8S_ROOT, 'overlays', overlay)) ? join(K8S_ROOT, 'overlays', overlay) : K8S_DIR;
}

function kustomizeComponent(component: string): K8sDoc[] {
  // kustomize refuses absolute paths to bases and components: the overlay names them relatively.
  const dir = mkdtempSync(join(tmpdir(), 'bitpredict-kustomize-'));
  const base = componentBase(component);
  try {
    writeFileSync(join(dir, 'kustomization.yaml'), `resources:\n  - ${relative(dir, base)}\ncomponents:\n  - ${relative(dir, component)}\n`);
    return kustomize(dir).map((d) => ({ ...d, file: `rendered ${base.slice(ROOT.length + 1)} + ${component.slice(ROOT.length + 1)}` }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The module of kubernetes-models (or of its KEDA and prometheus-operator packages) for an apiVersion. */
function modelFile(apiVersion: string): string {
  const group = apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '';
  const packages: Record<string, string> = {
    'keda.sh': '@kubernetes-models/keda',
    'monitoring.coreos.com': '@kubernetes-models/prometheus-operator',
    'kafka.strimzi.io': '@kubernetes-models/strimzi-kafka-operator',
  };
  const pkg = packages[group] ?? 'kubernetes-models';
  return join(SCHEMA_DIR, pkg, apiVersion, 'index.js');
}

type Model = new (data: unknown) => { validate(): void };

/** Schema errors of each document: an unknown apiVersion/kind is an error, not a pass. */
async function schemaProblems(docs: K8sDoc[]): Promise<string[]> {
  const problems: string[] = [];
  for (const { file, doc } of docs) {
    const apiVersion = text(doc.apiVersion) ?? '';
    const kind = text(doc.kind) ?? '';
    const where = `${file} ${kind}/${text(obj(doc.metadata).name)}`;
    const path = modelFile(apiVersion);
    if (!existsSync(path)) {
      problems.push(`${where}: no schema for ${apiVersion}`);
      continue;
    }
    const models = (await import(pathToFileURL(path).href)) as Record<string, Model | undefined>;
    const Ctor = models[kind];
    if (!Ctor) {
      problems.push(`${where}: no schema for ${apiVersion} ${kind}`);
      continue;
    }
    try {
      new Ctor(doc).validate();
    } catch (err) {
      problems.push(`${where}: ${errorMessage(err)}`);
    }
  }
  return problems;
}

describe('deployment/kubernetes rendered with kubectl kustomize', () => {
  for (const dir of KUSTOMIZATIONS) {
    const name = dir.slice(ROOT.length + 1);
    it.runIf(KUBECTL)(`${name} renders, is consistent and operable`, () => {
      const docs = kustomize(dir);
      expect(docs.length).toBeGreaterThan(0);
      expect(checkK8s(docs)).toEqual([]);
      expect(checkOperable(docs, readYaml(join(PROM_DIR, 'rules.yaml'))[0])).toEqual([]);
      expect(checkConnectionSecrets(docs)).toEqual([]);
      expect(checkModelSigning(docs)).toEqual([]);
    });
    it.runIf(KUBECTL && SCHEMAS_INSTALLED)(
      `${name}: every object validates against the Kubernetes ${K8S_SCHEMA_VERSION}, KEDA, prometheus-operator and Strimzi schemas`,
      async () => {
        expect(await schemaProblems(kustomize(dir))).toEqual([]);
      },
    );
  }

  it.runIf(SCHEMAS_INSTALLED)('reports schema errors and kinds it has no schema for', async () => {
    const [deployment] = loadK8s().filter((d) => d.doc.kind === 'Deployment');
    if (!deployment) throw new Error('no Deployment');
    const broken = structuredClone(deployment);
    delete obj(arr(podSpec(broken.doc).containers)[0]).name;
    obj(broken.doc.spec).replicas = 'two';
    const problems = await schemaProblems([broken, { file: 'x.yaml', doc: { apiVersion: 'example.com/v1', kind: 'Thing', metadata: { name: 't' } } }]);
    expect(problems.join('\n')).toMatch(/containers\/0 must have required property name/);
    expect(problems.join('\n')).toMatch(/replicas must be integer/);
    expect(problems).toContain('x.yaml Thing/t: no schema for example.com/v1');
  });

  for (const component of COMPONENTS) {
    const name = component.slice(ROOT.length + 1);
    const base = componentBase(component);
    it.runIf(KUBECTL)(`${base.slice(ROOT.length + 1)} + ${name} renders, is consistent, operable and schema-valid`, async () => {
      const docs = kustomizeComponent(component);
      expect(docs.length).toBeGreaterThan(kustomize(base).length);
      expect(checkK8s(docs)).toEqual([]);
      expect(checkOperable(docs, readYaml(join(PROM_DIR, 'rules.yaml'))[0])).toEqual([]);
      expect(checkConnectionSecrets(docs)).toEqual([]);
      expect(checkModelSigning(docs)).toEqual([]);
      if (base.endsWith('strimzi')) expect(checkStrimzi(docs, readFileSync(join(ROOT, 'docs', 'topics.md'), 'utf8'))).toEqual([]);
      if (base.endsWith('external')) expect(checkExternal(docs)).toEqual([]);
      if (name.includes('kafka-exporter')) expect(checkKafkaExporter(docs, sharedGroups(serviceSources(), 'bitpredict'))).toEqual([]);
      if (SCHEMAS_INSTALLED) expect(await schemaProblems(docs)).toEqual([]);
    });
  }

  it('docs/topics.md states the retention and compaction of the code (core/kafka/topics.ts), so the KafkaTopics checked against it match what BitPredict creates', () => {
    const documented = new Map(documentedTopics(readFileSync(join(ROOT, 'docs', 'topics.md'), 'utf8')).map((t) => [t.name, t.config]));
    const created = topicSpecs({ prefix: '', partitions: 3, replicationFactor: 3 });
    expect([...documented.keys()].sort()).toEqual(created.map((t) => t.name).sort());
    for (const t of created) expect(documented.get(t.name), t.name).toEqual(t.configs);
  });

  it.runIf(KUBECTL)('overlays/strimzi: topics as documented, a user per service with exactly its ACLs, every workload wired to its user', () => {
    const docs = kustomize(join(K8S_ROOT, 'overlays', 'strimzi'));
    const topicsMd = readFileSync(join(ROOT, 'docs', 'topics.md'), 'utf8');
    expect(documentedTopics(topicsMd).map((t) => t.name)).toEqual(expect.arrayContaining([...TOPICS, 'scores', 'model-artifacts']));
    expect(checkStrimzi(docs, topicsMd)).toEqual([]);

    const broken = structuredClone(docs);
    const find = (kind: string, name: string): Obj => {
      const hit = broken.find((d) => d.doc.kind === kind && obj(d.doc.metadata).name === name);
      if (!hit) throw new Error(`fixture lacks ${kind}/${name}`);
      return hit.doc;
    };
    obj(obj(find('KafkaTopic', 'models').spec).config)['cleanup.policy'] = 'delete';
    obj(find('KafkaTopic', 'features').spec).partitions = 6;
    obj(obj(find('KafkaTopic', 'predictions').spec).config)['retention.ms'] = -1;
    const gatewayAcls = arr(obj(obj(find('KafkaUser', 'bitpredict-gateway').spec).authorization).acls);
    gatewayAcls.push({ resource: { type: 'topic', name: 'dlq', patternType: 'literal' }, operations: ['Write'] });
    gatewayAcls.push({ resource: { type: 'group', name: '*', patternType: 'literal' }, operations: ['All'] });
    const predictorVolumes = arr(podSpec(find('Deployment', 'bitpredict-predictor')).volumes);
    obj(obj(predictorVolumes.find((v) => obj(v).name === 'kafka-user')).secret).secretName = 'bitpredict-features';
    const trainerAcls = obj(obj(find('KafkaUser', 'bitpredict-trainer').spec).authorization);
    trainerAcls.acls = arr(trainerAcls.acls).filter((a) => obj(obj(a).resource).name !== 'market.trades');
    broken.splice(
      broken.findIndex((d) => d.doc.kind === 'KafkaTopic' && obj(d.doc.metadata).name === 'scores'),
      1,
    );
    delete obj(obj(arr(obj(find('ScaledObject', 'bitpredict-features').spec).triggers)[0]).authenticationRef).name;
    const problems = checkStrimzi(broken, topicsMd).join('\n');
    expect(problems).toContain('KafkaTopic/models: cleanup.policy must be compact');
    expect(problems).toContain('KafkaTopic/features: partitions 6, docs/topics.md says 3');
    expect(problems).toContain('KafkaTopic/predictions: retention.ms must be 7776000000');
    expect(problems).toContain('strimzi: no KafkaTopic scores');
    expect(problems).toContain('KafkaUser/bitpredict-gateway: Write on topics [dlq], gateway needs exactly []');
    expect(problems).toContain('KafkaUser/bitpredict-gateway: no All operations or * resources');
    expect(problems).toContain('Deployment/bitpredict-predictor: /etc/kafka/user must mount the Secret bitpredict-predictor');
    expect(problems).toContain('ScaledObject/bitpredict-features: needs sasl scram_sha512');
    expect(problems).toContain('KafkaUser/bitpredict-trainer: no Describe on [market.trades], which trainer checks at start');
  });

  it.runIf(KUBECTL)('overlays/external: brokers, user and password of every workload and of KEDA from one Secret', () => {
    const docs = kustomize(join(K8S_ROOT, 'overlays', 'external'));
    expect(checkExternal(docs)).toEqual([]);
    const broken = structuredClone(docs);
    const find = (kind: string, name: string): Obj => {
      const hit = broken.find((d) => d.doc.kind === kind && obj(d.doc.metadata).name === name);
      if (!hit) throw new Error(`fixture lacks ${kind}/${name}`);
      return hit.doc;
    };
    obj(find('ConfigMap', 'bitpredict-config').data).BITPREDICT_KAFKA_BROKERS = 'kafka:9092';
    const gateway = obj(arr(podSpec(find('Deployment', 'bitpredict-gateway')).containers)[0]);
    gateway.env = arr(gateway.env).filter((e) => obj(e).name !== 'BITPREDICT_KAFKA_SASL_USERNAME');
    obj(obj(arr(obj(find('ScaledObject', 'bitpredict-predictor').spec).triggers)[0]).metadata).sasl = 'plaintext';
    const problems = checkExternal(broken).join('\n');
    expect(problems).toContain('ConfigMap: BITPREDICT_KAFKA_BROKERS must come from the Secret');
    expect(problems).toContain("Deployment/bitpredict-gateway: BITPREDICT_KAFKA_SASL_USERNAME must come from a Secret's key username");
    expect(problems).toContain('ScaledObject/bitpredict-predictor: needs bootstrapServersFromEnv BITPREDICT_KAFKA_BROKERS, sasl scram_sha512');
  });

  it.runIf(KUBECTL)(
    "registry and Redis credentials: docs/deploy.md's ConfigMap patch on the base and every overlay finds its files in the Secrets' folders and loads",
    () => {
      const settings = documentedCredentialSettings(readFileSync(join(ROOT, 'docs', 'deploy.md'), 'utf8'));
      expect(Object.keys(settings)).toEqual(expect.arrayContaining(['BITPREDICT_REGISTRY_PASSWORD_FILE', 'BITPREDICT_REDIS_PASSWORD_FILE']));
      // What `kubectl create secret generic ... --from-literal/--from-file` of the docs puts in each folder.
      const files: Record<string, string> = {};
      for (const { dir } of CONNECTION_SECRETS) {
        files[`${dir}/username`] = 'svc';
        files[`${dir}/password`] = 'secret\n';
        files[`${dir}/ca.crt`] = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
      }
      const readFile = (path: string): string => {
        const content = files[path];
        if (content === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
        return content;
      };
      for (const dir of KUSTOMIZATIONS.slice(1)) {
        const docs = kustomize(dir);
        const configMap = docs.find((d) => d.doc.kind === 'ConfigMap');
        if (!configMap) throw new Error(`${dir}: no ConfigMap`);
        configMap.doc.data = { ...obj(configMap.doc.data), ...settings };
        const where = dir.slice(ROOT.length + 1);
        expect(checkConnectionSecrets(docs), where).toEqual([]);
        const env = Object.fromEntries(Object.entries(obj(configMap.doc.data)).map(([k, v]) => [k, text(v) ?? '']));
        expect(checkBitpredictEnv(env, where)).toEqual([]);
        // The user name arrives as env from the Secret's key username, as the workloads declare.
        const config = loadConfig({ ...env, BITPREDICT_REGISTRY_USERNAME: 'svc', BITPREDICT_REDIS_USERNAME: 'svc' });
        const registry = registryConnectionFromConfig(config.registry, { readFile });
        expect(registry.auth, where).toEqual({ username: 'svc', password: 'secret' });
        expect(registry.tls?.ca, where).toContain('BEGIN CERTIFICATE');
        const redis = redisConnectionFromConfig(config.redis, { readFile });
        expect([redis.username, redis.password], where).toEqual(['svc', 'secret']);
        expect(redis.tls?.ca, where).toContain('BEGIN CERTIFICATE');
      }
      // The ConfigMap names the files but the Secret is missing (optional: an empty folder): a clear start error.
      const config = loadConfig(settings);
      const none = (path: string): string => {
        throw Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: 'ENOENT' });
      };
      expect(() => registryConnectionFromConfig(config.registry, { readFile: none })).toThrow(
        /BITPREDICT_REGISTRY_PASSWORD_FILE=\/etc\/bitpredict\/registry\/password cannot be read/,
      );
      expect(() => redisConnectionFromConfig(config.redis, { readFile: none })).toThrow(
        /BITPREDICT_REDIS_SSL_CA_FILE=\/etc\/bitpredict\/redis\/ca.crt cannot be read/,
      );
    },
    120_000,
  );

  it.runIf(KUBECTL)('registry and Redis credentials: reports a password in the ConfigMap, a file outside its Secret, a workload without the Secret', () => {
    const docs = structuredClone(kustomize(K8S_DIR));
    const find = (kind: string, name: string): Obj => {
      const hit = docs.find((d) => d.doc.kind === kind && obj(d.doc.metadata).name === name);
      if (!hit) throw new Error(`fixture lacks ${kind}/${name}`);
      return hit.doc;
    };
    const data = obj(find('ConfigMap', 'bitpredict-config').data);
    data.BITPREDICT_REDIS_PASSWORD = 'hunter2';
    data.BITPREDICT_REGISTRY_URL = 'https://user:pw@registry:8443/apis/ccompat/v7';
    data.BITPREDICT_REGISTRY_SSL_CA_FILE = '/etc/kafka/ca/ca.crt';
    const predictor = podSpec(find('Deployment', 'bitpredict-predictor'));
    predictor.volumes = arr(predictor.volumes).filter((v) => obj(v).name !== 'redis-auth');
    const gateway = obj(arr(podSpec(find('Deployment', 'bitpredict-gateway')).containers)[0]);
    const username = obj(obj(obj(arr(gateway.env).find((e) => obj(e).name === 'BITPREDICT_REGISTRY_USERNAME')).valueFrom).secretKeyRef);
    delete username.optional;
    const topics = obj(arr(podSpec(find('Job', 'bitpredict-topics')).containers)[0]);
    topics.env = arr(topics.env).filter((e) => obj(e).name !== 'BITPREDICT_REDIS_USERNAME');
    const problems = checkConnectionSecrets(docs).join('\n');
    expect(problems).toContain('ConfigMap: BITPREDICT_REDIS_PASSWORD is a credential: put it in the Secret bitpredict-redis');
    expect(problems).toContain('ConfigMap: BITPREDICT_REGISTRY_URL holds a login');
    expect(problems).toContain('ConfigMap: BITPREDICT_REGISTRY_SSL_CA_FILE=/etc/kafka/ca/ca.crt is not in /etc/bitpredict/registry');
    expect(problems).toContain('Deployment/bitpredict-predictor: /etc/bitpredict/redis must mount the Secret bitpredict-redis, optional');
    expect(problems).toContain(
      'Deployment/bitpredict-gateway: BITPREDICT_REGISTRY_USERNAME must come from the Secret bitpredict-registry, key username, optional',
    );
    expect(problems).toContain('Job/bitpredict-topics: BITPREDICT_REDIS_USERNAME must come from the Secret bitpredict-redis');
    expect(() => documentedCredentialSettings('# no such section')).toThrow(/no yaml block/);
  });

  it.runIf(KUBECTL)('components/kafka-exporter-external: logs in with the services\u2019 Secret and watches exactly the shared groups', () => {
    const groups = sharedGroups(serviceSources(), 'bitpredict');
    expect(groups).toEqual(['bitpredict-features', 'bitpredict-predictor', 'bitpredict-sentiment', 'bitpredict-trainer-monitor']);
    const docs = kustomizeComponent(join(K8S_ROOT, 'components', 'kafka-exporter-external'));
    expect(checkKafkaExporter(docs, groups)).toEqual([]);
    const broken = structuredClone(docs);
    const exporter = broken.find((d) => d.doc.kind === 'Deployment' && obj(d.doc.metadata).name === 'bitpredict-kafka-exporter');
    if (!exporter) throw new Error('no bitpredict-kafka-exporter');
    const c = obj(arr(podSpec(exporter.doc).containers)[0]);
    c.image = 'danielqsj/kafka-exporter:latest';
    obj(obj(obj(arr(c.env).find((e) => obj(e).name === 'BITPREDICT_KAFKA_SASL_USERNAME')).valueFrom).secretKeyRef).name = 'other';
    c.args = arr(c.args).map((a) => (text(a) ?? '').replace('--tls.enabled', '').replace('trainer-monitor', 'trainer-monitor|gateway.*'));
    const problems = checkKafkaExporter(broken, groups).join('\n');
    expect(problems).toContain('image must be danielqsj/kafka-exporter pinned to a version');
    expect(problems).toContain("BITPREDICT_KAFKA_SASL_USERNAME must come from the services' Secret, key username");
    expect(problems).toContain('the command lacks --tls.enabled');
    expect(problems).toContain('matches the private group bitpredict-gateway-0-mf1k2x-a1b2c3');
    expect(
      checkKafkaExporter(
        broken.filter((d) => d !== exporter),
        groups,
      ),
    ).toEqual(['external: needs exactly one kafka-exporter Deployment (found 0)']);
  });

  it('watches the same shared groups broker-side everywhere: the alert, Strimzi\u2019s kafkaExporter', () => {
    const groups = sharedGroups(serviceSources(), 'bitpredict');
    const rule = arr(obj(arr(obj(readYaml(join(PROM_DIR, 'rules.yaml'))[0]).groups)[0]).rules)
      .map(obj)
      .find((r) => r.alert === 'BitPredictConsumerLagBrokerSide');
    const expr = text(rule?.expr) ?? '';
    const matchers = [...expr.matchAll(/kafka_consumergroup_lag\{consumergroup=~"([^"]*)"\}/g)].map((m) => m[1] ?? '');
    expect(matchers.length).toBe(2);
    for (const m of matchers) expect(checkGroupRegex(m, groups, 'BitPredictConsumerLagBrokerSide')).toEqual([]);
    const kafka = obj(
      readYaml(join(K8S_ROOT, 'overlays', 'strimzi', 'kafka.yaml'))
        .map(obj)
        .find((d) => d.kind === 'Kafka'),
    );
    const exporter = obj(obj(kafka.spec).kafkaExporter);
    // Strimzi passes the regex to the same exporter, which anchors nothing itself: the ^...$ are ours.
    expect(checkGroupRegex(text(exporter.groupRegex) ?? '', groups, 'strimzi kafkaExporter.groupRegex')).toEqual([]);
    expect(new RegExp(text(exporter.topicRegex) ?? '').test('__consumer_offsets')).toBe(false);
    for (const t of TOPICS) expect(new RegExp(text(exporter.topicRegex) ?? '').test(t), t).toBe(true);
    expect(checkGroupRegex('bitpredict-.+', groups, 'r')).toEqual([
      'r: matches the private group bitpredict-gateway-0-mf1k2x-a1b2c3, whose abandoned offsets would page',
      'r: matches the private group bitpredict-predictor-models-1-mf1k2x-a1b2c3, whose abandoned offsets would page',
      'r: matches the private group bitpredict-features-text-2-mf1k2x-0f0f0f, whose abandoned offsets would page',
    ]);
    expect(checkGroupRegex('bitpredict-(features|sentiment)', groups, 'r')).toEqual([
      'r: does not match the shared group bitpredict-predictor',
      'r: does not match the shared group bitpredict-trainer-monitor',
    ]);
  });

  it.skipIf(KUBECTL)('kustomize rendering skipped: kubectl is not on PATH', () => {
    // In CI every overlay must be rendered and validated: a missing kubectl is a failure, never a silent skip.
    expect(process.env.CI, 'CI must render every overlay: kubectl (with kustomize) must be on PATH').toBeUndefined();
  });
  it.skipIf(SCHEMAS_INSTALLED)('schema validation skipped: run `npm ci --prefix deployment/schema-check` first', () => {
    // .ci/run installs them: in CI a missing schema package is a failure, never a silent skip.
    expect(process.env.CI, 'CI must validate every manifest: npm ci --prefix deployment/schema-check').toBeUndefined();
  });
});

describe('deployment/prometheus and deployment/grafana', () => {
  it('has alerts for lag, DLQ writes, gateway down, missing predictions and slow-client spikes', () => {
    expect(checkRules(readYaml(join(PROM_DIR, 'rules.yaml'))[0])).toEqual([]);
  });

  it('reports rules without expr, severity or summary, and duplicates', () => {
    const broken = {
      groups: [
        {
          name: 'g',
          rules: [
            { alert: 'A', expr: 'up == 0', labels: { severity: 'page' } },
            { alert: 'A', expr: 'up == 0', labels: { severity: 'warning' }, annotations: { summary: 's' } },
            { alert: 'B' },
          ],
        },
      ],
    };
    const problems = checkRules(broken).join('\n');
    expect(problems).toContain('rules A: severity must be warning or critical');
    expect(problems).toContain('rules A: annotations.summary missing');
    expect(problems).toContain('rules: duplicate alert A');
    expect(problems).toContain('every rule needs alert and expr');
    expect(problems).toContain('rules: no alert uses bitpredict_dlq_records_total');
    expect(checkRules(undefined)).toEqual(['rules: no groups']);
  });

  it('queries only metrics that the services define', async () => {
    const sources = serviceSources();
    const defaults = exportedNames(await createMetricsRegistry({ service: 'deployment-test' }).metrics());
    const dashboards = readdirSync(join(ROOT, 'deployment', 'grafana')).filter((f) => f.endsWith('.json'));
    const panelExprs = dashboards.flatMap((f) =>
      arr(obj(JSON.parse(readFileSync(join(ROOT, 'deployment', 'grafana', f), 'utf8')) as unknown).panels).flatMap((p) =>
        arr(obj(p).targets).map((t) => text(obj(t).expr) ?? ''),
      ),
    );
    expect(unknownMetrics([...ruleExprs(readYaml(join(PROM_DIR, 'rules.yaml'))[0]), ...panelExprs], sources, defaults)).toEqual([]);
    expect(
      unknownMetrics(
        [
          'rate(bitpredict_made_up_total[5m])',
          'bitpredict_process_process_cpu_seconds_total',
          'bitpredict_process_resident_memory_bytes',
          'histogram_quantile(0.9, rate(bitpredict_consumer_handler_seconds_bucket[5m]))',
        ],
        sources,
        defaults,
      ),
    ).toEqual(['bitpredict_made_up_total', 'bitpredict_process_resident_memory_bytes']);
  });

  it('finds the metric names of a PromQL query, and the names an exposition exports', () => {
    expect(
      metricNamesIn(
        'sum by (group, topic) (max by (group, topic, partition) (bitpredict_consumer_lag_records{topic!~"x.*"})) > 1e3 and deriv(foo:bar[10m:1m] offset 5m) > 0',
      ),
    ).toEqual(['bitpredict_consumer_lag_records', 'foo:bar']);
    expect(metricNamesIn('sum(up{component="gateway"}) == 0 or absent(up{component="gateway"})')).toEqual(['up']);
    expect(metricNamesIn('rate(a_total[$__rate_interval]) / on (group) group_left (reason) b_count')).toEqual(['a_total', 'b_count']);
    const names = exportedNames('# HELP h x\n# TYPE h histogram\nh_bucket{le="1"} 0\n# TYPE c_total counter\n# TYPE s summary\n');
    expect([...names].sort()).toEqual(['c_total', 'h_bucket', 'h_count', 'h_sum', 's', 's_count', 's_sum']);
    const dash = {
      panels: [
        { title: 'A', targets: [{ expr: 'a' }] },
        { type: 'row', panels: [{ title: 'B', targets: [{ expr: 'b' }, { expr: '' }] }] },
      ],
    };
    expect(unexportedMetrics(dashboardQueries(dash, 'd.json'), new Set(['a']))).toEqual(['d.json panel "B": b', 'd.json panel "B": empty query']);
    expect(ruleQueries({ groups: [{ rules: [{ alert: 'X', expr: 'up == 0 or y' }] }] }, 'r.yaml')).toEqual([{ where: 'r.yaml X', expr: 'up == 0 or y' }]);
    // kafka-exporter's documented series are external, a misspelt one is still reported, and a
    // BitPredict exposition that exported one would be a clash.
    expect(
      unexportedMetrics(
        [{ where: 'r.yaml L', expr: 'sum(kafka_consumergroup_lag) > 0 and kafka_consumergroup_members == 0 or kafka_consumergroup_lags' }],
        new Set(),
      ),
    ).toEqual(['r.yaml L: kafka_consumergroup_lags']);
    expect(externalNamesExported(new Set(['bitpredict_consumer_lag_records', 'kafka_consumergroup_lag']))).toEqual(['kafka_consumergroup_lag']);
  });

  it('loads the rule files that exist and labels targets by component', () => {
    const config = obj(readYaml(join(PROM_DIR, 'prometheus.yaml'))[0]);
    const ruleFiles = arr(config.rule_files).map((f) => text(f) ?? '');
    expect(ruleFiles).toContain('rules.yaml');
    for (const f of ruleFiles) expect(existsSync(join(PROM_DIR, f))).toBe(true);
    expect(JSON.stringify(config.scrape_configs)).toContain('"target_label":"component"');
  });

  it('has a Grafana dashboard whose panels all query Prometheus', () => {
    const dir = join(ROOT, 'deployment', 'grafana');
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.json'))) {
      const dash = obj(JSON.parse(readFileSync(join(dir, f), 'utf8')) as unknown);
      const panels = arr(dash.panels).map(obj);
      expect(panels.length).toBeGreaterThan(0);
      for (const p of panels) expect(arr(p.targets).every((t) => (text(obj(t).expr) ?? '').length > 0)).toBe(true);
    }
  });
});

describe('docs/operations.md', () => {
  it('covers every command and every deployment file', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'operations.md'), 'utf8');
    for (const command of KNOWN_COMMANDS) expect(doc).toContain(`\`${command}\``);
    for (const f of readdirSync(K8S_DIR).filter((x) => x.endsWith('.yaml'))) expect(doc).toContain(f);
    for (const f of ['docker-compose.yaml', 'deployment/Dockerfile', 'rules.yaml', 'prometheus.yaml']) expect(doc).toContain(f);
  });
});

/** Every `uses:` of a workflow that is not pinned to a full commit SHA. */
function unpinnedActions(workflow: string): string[] {
  return [...workflow.matchAll(/^\s*-?\s*uses:\s*(\S+)/gm)].map((m) => m[1] ?? '').filter((u) => !u.startsWith('./') && !/@[0-9a-f]{40}$/.test(u));
}

describe('GitHub Actions', () => {
  it('pins every action of every workflow to a commit SHA', () => {
    const dir = join(ROOT, '.github', 'workflows');
    const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) expect(unpinnedActions(readFileSync(join(dir, f), 'utf8')), f).toEqual([]);
    expect(unpinnedActions('steps:\n  - uses: actions/checkout@v4\n  - uses: actions/cache@5a3ec84eff668545956fd18022155c47e93e2684 # v4.2.3\n')).toEqual([
      'actions/checkout@v4',
    ]);
  });
});
