// The only user of the schema registry client. Values are Avro in the Confluent wire format
// (magic byte 0, 4-byte schema id, Avro body). Encoding validates against the topic's schema
// first, so a bad value fails with the paths that are wrong instead of a cryptic buffer error.
// Decoding resolves the writer's schema (fetched by id, cached) into the reader schema this code
// was built with, so consumers read records written with older, BACKWARD-compatible schemas.
import { Agent } from 'node:https';
import registryPkg from '@kafkajs/confluent-schema-registry';
import avro from 'avsc';
import type { Type } from 'avsc';
import type { Logger } from '../logger.js';
import { BitPredictError, errorMessage } from '../errors.js';
import { isLocalStackUrl, unreachableHint } from '../stack-hint.js';
import type { RegistryConnection } from '../connection-security.js';
import { tlsFailureOf } from '../kafka/security.js';
import { TOPICS, loadSchema, subjectFor, topicName, type LogicalTopic, type TopicValueMap } from '../../schemas/index.js';

const { SchemaRegistry, SchemaType, COMPATIBILITY } = registryPkg;
type Registry = InstanceType<typeof SchemaRegistry>;

export interface Serde {
  /** Registers every topic's value schema under `<topic>-value` (BACKWARD). Idempotent. */
  registerAll(): Promise<Record<LogicalTopic, number>>;
  encode<T extends LogicalTopic>(logical: T, value: TopicValueMap[T]): Buffer;
  decode<T extends LogicalTopic>(logical: T, buffer: Buffer | null): Promise<TopicValueMap[T]>;
  /** Schema id registered for a topic (after registerAll). */
  schemaId(logical: LogicalTopic): number;
}

const MAGIC = 0;

function typeFor(logical: LogicalTopic): Type {
  return avro.Type.forSchema(loadSchema(logical) as avro.Schema);
}

function invalidPaths(type: Type, value: unknown): string[] {
  const paths: string[] = [];
  type.isValid(value, {
    errorHook: (path: string[], v: unknown) => {
      paths.push(`${path.join('.') || '(root)'}=${JSON.stringify(v)?.slice(0, 60) ?? 'undefined'}`);
    },
  });
  return paths;
}

/** Values that fit are framed in this much scratch memory; larger ones take the general path. */
const SCRATCH_BYTES = 64 * 1024;

/**
 * Confluent framing of one value: validated first (the plain isValid is compiled and fast; the
 * path-collecting variant runs only on failure), then encoded straight behind the 5-byte header
 * in a reused scratch buffer and copied once into a buffer of the exact size. This runs once per
 * produced record, so it avoids the header buffer and the concat of the naive version.
 */
function createFramer(): (type: Type, id: number, recordName: string, value: unknown) => Buffer {
  const scratch = Buffer.allocUnsafeSlow(SCRATCH_BYTES);
  return (type, id, recordName, value) => {
    const bad = type.isValid(value) ? [] : invalidPaths(type, value);
    if (bad.length > 0) throw new BitPredictError('ERR_SERDE_ENCODE', `value is not a valid ${recordName}: ${bad.slice(0, 5).join(', ')}`);
    const end = type.encode(value, scratch, 5);
    if (end < 0) {
      const body = type.toBuffer(value);
      const header = Buffer.alloc(5);
      header.writeUInt8(MAGIC, 0);
      header.writeInt32BE(id, 1);
      return Buffer.concat([header, body]);
    }
    scratch.writeUInt8(MAGIC, 0);
    scratch.writeInt32BE(id, 1);
    const out = Buffer.allocUnsafe(end);
    scratch.copy(out, 0, 0, end);
    return out;
  };
}

/**
 * The registry client's failure as a BitPredictError. The HTTP client (mappersmith) reports a
 * socket or TLS error as "status 400" with Node's message, so the message is what tells a refused
 * connection and a failed handshake apart from an answer of the registry.
 */
export function registryError(err: unknown, conn: Pick<RegistryConnection, 'shownUrl' | 'origin'>): BitPredictError {
  const status = (err as { status?: number }).status;
  const message = errorMessage(err);
  const code = (err as { code?: unknown }).code;
  const detail = message.replace(/^.*status \d+: /, '');
  const tls = tlsFailureOf(typeof code === 'string' ? code : '', message);
  if (tls !== null) {
    const hint =
      tls === 'untrusted'
        ? `the registry's certificate is not signed by a CA this client trusts; check ${conn.origin.tls}`
        : tls === 'hostname'
          ? `the registry's certificate does not name the host in BITPREDICT_REGISTRY_URL; use the name the certificate gives, or (test setups only) BITPREDICT_REGISTRY_SSL_VERIFY=false (${conn.origin.tls})`
          : `check that the port speaks TLS (BITPREDICT_REGISTRY_URL) and the client certificate (${conn.origin.tls})`;
    return new BitPredictError('ERR_REGISTRY_TLS', `the TLS handshake with the schema registry at ${conn.shownUrl} failed (${detail}); ${hint}`, {
      cause: err,
    });
  }
  if (status === undefined || /ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND|EHOSTUNREACH|socket hang up/.test(message)) {
    return new BitPredictError(
      'ERR_REGISTRY_UNREACHABLE',
      `schema registry at ${conn.shownUrl} did not answer (${unreachableHint(isLocalStackUrl(conn.shownUrl, 'registry'), 'BITPREDICT_REGISTRY_URL')}): ${detail}`,
      { cause: err },
    );
  }
  if (status === 401 || status === 403) {
    return new BitPredictError(
      'ERR_REGISTRY_AUTH',
      `the schema registry at ${conn.shownUrl} refused the credentials (HTTP ${status}); check ${conn.origin.auth}`,
      { cause: err },
    );
  }
  return new BitPredictError('ERR_REGISTRY', `schema registry refused the request (HTTP ${status}): ${message}`, { cause: err });
}

export function createSerde(deps: { connection: RegistryConnection; topicPrefix: string; logger: Logger }): Serde {
  const logger = deps.logger.child({ component: 'serde' });
  const conn = deps.connection;
  const registry: Registry = new SchemaRegistry({
    host: conn.url,
    clientId: 'bitpredict',
    retry: { retries: 2, initialRetryTimeInSecs: 0.2, maxRetryTimeInSecs: 1 },
    // Basic auth on every request (mappersmith's middleware); the password never reaches a message.
    ...(conn.auth === null ? {} : { auth: conn.auth }),
    // https:// with the configured CA, client certificate and verification.
    ...(conn.tls === null ? {} : { agent: new Agent({ ...conn.tls, keepAlive: true }) }),
  });
  const readerTypes = new Map<LogicalTopic, Type>();
  const ids = new Map<LogicalTopic, number>();
  // writer schema id -> resolver into the reader type of a logical topic
  const resolvers = new Map<string, { resolver: avro.Resolver; type: Type }>();
  const framed = createFramer();

  const reader = (logical: LogicalTopic): Type => {
    let t = readerTypes.get(logical);
    if (!t) {
      t = typeFor(logical);
      readerTypes.set(logical, t);
    }
    return t;
  };

  async function resolverFor(logical: LogicalTopic, id: number): Promise<{ resolver: avro.Resolver; type: Type }> {
    const cacheKey = `${logical}:${id}`;
    const cached = resolvers.get(cacheKey);
    if (cached) return cached;
    let writerSchema;
    try {
      writerSchema = await registry.getSchema(id);
    } catch (err) {
      const status = (err as { status?: number }).status;
      if (status === 404) throw new BitPredictError('ERR_SERDE_UNKNOWN_SCHEMA', `schema id ${id} is not in the registry`, { retryable: false, cause: err });
      throw registryError(err, conn);
    }
    const type = reader(logical);
    let resolver: avro.Resolver;
    try {
      resolver = type.createResolver(writerSchema as unknown as Type);
    } catch (err) {
      throw new BitPredictError('ERR_SERDE_DECODE', `schema id ${id} cannot be read as ${TOPICS[logical].recordName}: ${errorMessage(err)}`, { cause: err });
    }
    const entry = { resolver, type };
    resolvers.set(cacheKey, entry);
    return entry;
  }

  return {
    async registerAll() {
      const out = {} as Record<LogicalTopic, number>;
      for (const logical of Object.keys(TOPICS) as LogicalTopic[]) {
        const subject = subjectFor(topicName(logical, deps.topicPrefix));
        try {
          const { id } = await registry.register(
            { type: SchemaType.AVRO, schema: JSON.stringify(loadSchema(logical)) },
            { subject, compatibility: COMPATIBILITY.BACKWARD },
          );
          ids.set(logical, id);
          out[logical] = id;
        } catch (err) {
          throw registryError(err, conn);
        }
      }
      logger.info({ ids: out }, 'schemas registered');
      return out;
    },
    encode(logical, value) {
      const id = ids.get(logical);
      if (id === undefined)
        throw new BitPredictError('ERR_SERDE_ENCODE', `schema of ${logical} is not registered yet (call registerAll first)`, { retryable: false });
      return framed(reader(logical), id, TOPICS[logical].recordName, value);
    },
    async decode(logical, buffer) {
      if (buffer === null || buffer.length === 0) throw new BitPredictError('ERR_SERDE_DECODE', 'record has no value');
      if (buffer.length < 6 || buffer.readUInt8(0) !== MAGIC) {
        throw new BitPredictError('ERR_SERDE_DECODE', `value is not Confluent-framed Avro (${buffer.length} bytes, first byte ${buffer.readUInt8(0)})`);
      }
      const id = buffer.readInt32BE(1);
      const { resolver, type } = await resolverFor(logical, id);
      try {
        return type.fromBuffer(buffer.subarray(5), resolver, true) as TopicValueMap[typeof logical];
      } catch (err) {
        throw new BitPredictError('ERR_SERDE_DECODE', `Avro body does not decode with schema id ${id}: ${errorMessage(err)}`, { cause: err });
      }
    },
    schemaId(logical) {
      const id = ids.get(logical);
      if (id === undefined) throw new BitPredictError('ERR_SERDE_ENCODE', `schema of ${logical} is not registered yet`);
      return id;
    },
  };
}
