// The kafka.security section of the configuration (BITPREDICT_KAFKA_SECURITY_PROTOCOL, _SSL_*,
// _SASL_*) as one KafkaSecurity for whichever driver runs. The files are read here, once, at
// start (the OAUTHBEARER token file excepted: it is read again at every authentication, so a
// rotated token is picked up). Settings that do not fit together fail fast with
// ERR_CONFIG_INVALID, every problem listed with its key and path. No secret ever reaches a
// message: errors name keys and paths, never a password or token.
import type { Config } from '../config.js';
import { BitPredictError } from '../errors.js';
import { defaultRead, keyReader, readClientTls, readProblem, trimNewline, type KeyReader } from '../connection-security.js';
import { PLAINTEXT, type KafkaSecurity } from './driver.js';
import { addSecrets } from '../redact.js';

export type SecurityConfig = Config['kafka']['security'];

type Mechanism = NonNullable<KafkaSecurity['sasl']>['mechanism'];

const MECHANISMS: Record<string, Mechanism> = {
  PLAIN: 'plain',
  'SCRAM-SHA-256': 'scram-sha-256',
  'SCRAM-SHA-512': 'scram-sha-512',
  OAUTHBEARER: 'oauthbearer',
};

export interface SecurityDeps {
  /** Reads a file as UTF-8 (tests may pass a fake); default: fs.readFileSync. */
  readFile?: (path: string) => string;
}

/**
 * Builds the KafkaSecurity of the configuration, reading the CA, certificate, key and password
 * files. Throws ERR_CONFIG_INVALID listing every problem (a key without the protocol that uses
 * it, a SASL protocol without a mechanism, a password given twice, an unreadable file...).
 */
export function kafkaSecurityFromConfig(cfg: SecurityConfig, deps: SecurityDeps = {}): KafkaSecurity {
  const read = deps.readFile ?? defaultRead;
  const problems: string[] = [];
  const protocol = cfg.protocol;
  const usesTls = protocol === 'SSL' || protocol === 'SASL_SSL';
  const usesSasl = protocol === 'SASL_PLAINTEXT' || protocol === 'SASL_SSL';
  const protoKey = `BITPREDICT_KAFKA_SECURITY_PROTOCOL=${protocol}`;

  const readKey = keyReader(read, problems);

  // Keys that only one half of the protocols reads: set with the other half, they are a mistake
  // (usually a forgotten BITPREDICT_KAFKA_SECURITY_PROTOCOL), not something to ignore.
  const tlsKeys: [string, boolean][] = [
    ['BITPREDICT_KAFKA_SSL_CA_FILE', cfg.sslCaFile !== ''],
    ['BITPREDICT_KAFKA_SSL_CERT_FILE', cfg.sslCertFile !== ''],
    ['BITPREDICT_KAFKA_SSL_KEY_FILE', cfg.sslKeyFile !== ''],
    ['BITPREDICT_KAFKA_SSL_VERIFY', !cfg.sslVerify],
  ];
  const saslKeys: [string, boolean][] = [
    ['BITPREDICT_KAFKA_SASL_MECHANISM', cfg.saslMechanism !== ''],
    ['BITPREDICT_KAFKA_SASL_USERNAME', cfg.saslUsername !== ''],
    ['BITPREDICT_KAFKA_SASL_PASSWORD', cfg.saslPassword !== ''],
    ['BITPREDICT_KAFKA_SASL_PASSWORD_FILE', cfg.saslPasswordFile !== ''],
    ['BITPREDICT_KAFKA_SASL_OAUTH_TOKEN_FILE', cfg.saslOauthTokenFile !== ''],
  ];
  if (!usesTls) {
    for (const [key, set] of tlsKeys) if (set) problems.push(`${key} is set but ${protoKey} does not use TLS (use SSL or SASL_SSL)`);
  }
  if (!usesSasl) {
    for (const [key, set] of saslKeys) if (set) problems.push(`${key} is set but ${protoKey} does not use SASL (use SASL_PLAINTEXT or SASL_SSL)`);
  }

  let tls: KafkaSecurity['tls'] = null;
  const origin: NonNullable<KafkaSecurity['origin']> = {};
  if (usesTls) {
    const client = readClientTls('BITPREDICT_KAFKA', cfg, readKey, problems);
    tls = client.tls;
    origin.tls = client.origin;
  }

  let sasl: KafkaSecurity['sasl'] = null;
  if (usesSasl) sasl = saslOf(cfg, protoKey, problems, readKey, read, origin);

  if (problems.length > 0) {
    throw new BitPredictError('ERR_CONFIG_INVALID', `invalid Kafka security configuration: ${problems.join('; ')}`, { details: { problems } });
  }
  if (tls === null && sasl === null) return PLAINTEXT;
  return { tls, sasl, origin };
}

function saslOf(
  cfg: SecurityConfig,
  protoKey: string,
  problems: string[],
  readKey: KeyReader,
  read: (path: string) => string,
  origin: NonNullable<KafkaSecurity['origin']>,
): KafkaSecurity['sasl'] {
  const mechanism = MECHANISMS[cfg.saslMechanism];
  if (mechanism === undefined) {
    problems.push(`${protoKey} needs BITPREDICT_KAFKA_SASL_MECHANISM (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER)`);
    return null;
  }
  const mechKey = `BITPREDICT_KAFKA_SASL_MECHANISM=${cfg.saslMechanism}`;
  if (mechanism === 'oauthbearer') {
    for (const [key, set] of [
      ['BITPREDICT_KAFKA_SASL_USERNAME', cfg.saslUsername !== ''],
      ['BITPREDICT_KAFKA_SASL_PASSWORD', cfg.saslPassword !== ''],
      ['BITPREDICT_KAFKA_SASL_PASSWORD_FILE', cfg.saslPasswordFile !== ''],
    ] as const) {
      if (set) problems.push(`${key} is set but ${mechKey} takes a token (BITPREDICT_KAFKA_SASL_OAUTH_TOKEN_FILE), not a user and password`);
    }
    const path = cfg.saslOauthTokenFile;
    if (path === '') {
      problems.push(`${mechKey} needs BITPREDICT_KAFKA_SASL_OAUTH_TOKEN_FILE`);
      return null;
    }
    const nonEmpty = (text: string): string | null => (text.trim() === '' ? 'is empty' : null);
    // Checked now so a wrong path fails at start; read again at every authentication.
    if (readKey('BITPREDICT_KAFKA_SASL_OAUTH_TOKEN_FILE', path, nonEmpty) === undefined) return null;
    origin.sasl = `${mechKey}, BITPREDICT_KAFKA_SASL_OAUTH_TOKEN_FILE=${path}`;
    return { mechanism, token: oauthTokenReader(path, read) };
  }
  if (cfg.saslOauthTokenFile !== '') problems.push(`BITPREDICT_KAFKA_SASL_OAUTH_TOKEN_FILE is set but ${mechKey} takes a user and password`);
  if (cfg.saslUsername === '') problems.push(`${mechKey} needs BITPREDICT_KAFKA_SASL_USERNAME`);
  let password: string | undefined;
  let passwordFrom = 'BITPREDICT_KAFKA_SASL_PASSWORD';
  if (cfg.saslPassword !== '' && cfg.saslPasswordFile !== '') {
    problems.push('BITPREDICT_KAFKA_SASL_PASSWORD and BITPREDICT_KAFKA_SASL_PASSWORD_FILE are both set: set one of them');
  } else if (cfg.saslPasswordFile !== '') {
    passwordFrom = `BITPREDICT_KAFKA_SASL_PASSWORD_FILE=${cfg.saslPasswordFile}`;
    const text = readKey('BITPREDICT_KAFKA_SASL_PASSWORD_FILE', cfg.saslPasswordFile, (t) => (trimNewline(t) === '' ? 'is empty' : null));
    if (text !== undefined) password = trimNewline(text);
  } else if (cfg.saslPassword !== '') {
    password = cfg.saslPassword;
  } else {
    problems.push(`${mechKey} needs BITPREDICT_KAFKA_SASL_PASSWORD_FILE or BITPREDICT_KAFKA_SASL_PASSWORD`);
  }
  if (password === undefined || cfg.saslUsername === '') return null;
  origin.sasl = `${mechKey}, BITPREDICT_KAFKA_SASL_USERNAME=${cfg.saslUsername}, ${passwordFrom}`;
  return { mechanism, username: cfg.saslUsername, password };
}

/** Reads the token file at each call (the drivers call it at every (re)authentication). */
function oauthTokenReader(path: string, read: (path: string) => string): () => Promise<string> {
  return () => {
    try {
      const token = read(path).trim();
      if (token === '') throw new Error('the file is empty');
      addSecrets([token]);
      return Promise.resolve(token);
    } catch (err) {
      return Promise.reject(
        new BitPredictError('ERR_CONFIG_INVALID', `BITPREDICT_KAFKA_SASL_OAUTH_TOKEN_FILE=${path} cannot be read (${readProblem(err)})`, { cause: err }),
      );
    }
  };
}

// The two errors a secured connection adds, worded once for both drivers (each driver's
// classifySecurityError decides which of its errors they are). Neither is retryable: a wrong
// password or an unknown CA does not fix itself, so the caller must stop and say so.

/** The SASL settings to check, as configured (keys and paths; never the secret). */
function saslSettings(security: KafkaSecurity | undefined): string {
  const configured = security?.origin?.sasl;
  const mechanism = security?.sasl ? ` (mechanism ${security.sasl.mechanism.toUpperCase()})` : '';
  return configured === undefined
    ? `BITPREDICT_KAFKA_SASL_MECHANISM, BITPREDICT_KAFKA_SASL_USERNAME and BITPREDICT_KAFKA_SASL_PASSWORD or BITPREDICT_KAFKA_SASL_PASSWORD_FILE${mechanism}`
    : configured;
}

/** ERR_KAFKA_AUTH: the broker refused the SASL login (wrong user or password, mechanism not enabled, expired token). */
export function saslRefusedError(security: KafkaSecurity | undefined, broker: string, detail: string, cause: unknown): BitPredictError {
  const what = security?.sasl?.mechanism === 'oauthbearer' ? 'the token' : 'the user name, password and mechanism';
  return new BitPredictError('ERR_KAFKA_AUTH', `the Kafka broker at ${broker} refused the SASL login (${detail}); check ${what}: ${saslSettings(security)}`, {
    cause,
  });
}

export type TlsFailure = 'untrusted' | 'hostname' | 'handshake';

/** ERR_KAFKA_TLS: the TLS handshake failed; `kind` decides which setting the message points at. */
export function tlsFailedError(security: KafkaSecurity | undefined, broker: string, kind: TlsFailure, detail: string, cause: unknown): BitPredictError {
  const settings = security?.origin?.tls ?? 'BITPREDICT_KAFKA_SSL_CA_FILE';
  const hint =
    kind === 'untrusted'
      ? `the broker's certificate is not signed by a CA this client trusts; check ${settings}`
      : kind === 'hostname'
        ? `the broker's certificate does not name the host dialled: use the host name the certificate gives in BITPREDICT_KAFKA_BROKERS, or (test clusters only) BITPREDICT_KAFKA_SSL_VERIFY=false (${settings})`
        : `check that the port speaks TLS (BITPREDICT_KAFKA_SECURITY_PROTOCOL, BITPREDICT_KAFKA_BROKERS) and the client certificate (${settings})`;
  return new BitPredictError('ERR_KAFKA_TLS', `the TLS handshake with the Kafka broker at ${broker} failed (${detail}); ${hint}`, { cause });
}

// Node's certificate verification codes (tls.TLSSocket#authorizationError).
const UNTRUSTED_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_REJECTED',
]);

/** Which TLS failure a Node socket error (code, message) is, or null when it is none. */
export function tlsFailureOf(code: string, message: string): TlsFailure | null {
  if (UNTRUSTED_CODES.has(code)) return 'untrusted';
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID' || /does not match certificate's altnames/i.test(message)) return 'hostname';
  if (code.startsWith('ERR_SSL_') || code === 'EPROTO' || /SSL routines|TLS handshake failed|before secure TLS connection was established/i.test(message)) {
    return 'handshake';
  }
  if (/self[- ]signed certificate|unable to verify the first certificate|unable to get local issuer certificate/i.test(message)) return 'untrusted';
  return null;
}

// The third refusal a secured cluster adds: the authorizer. The login worked, but no ACL allows
// this principal the operation. Not retryable either: an ACL is granted by an operator.

export type AclResource = 'topic' | 'group' | 'transactional id' | 'cluster';

const ACL_FAILURES: [RegExp, AclResource][] = [
  [/TOPIC_AUTHORIZATION_FAILED|Topic authorization failed|Not authorized to access topics/i, 'topic'],
  [/GROUP_AUTHORIZATION_FAILED|Group authorization failed/i, 'group'],
  [/TRANSACTIONAL_ID_AUTHORIZATION_FAILED|Transactional Id authorization failed/i, 'transactional id'],
  [/CLUSTER_AUTHORIZATION_FAILED|Cluster authorization failed/i, 'cluster'],
];

/** Which kind of resource the authorizer refused, from the error texts (types, codes, messages) of a chain; null when none. */
export function aclFailureOf(texts: readonly string[]): AclResource | null {
  for (const [pattern, kind] of ACL_FAILURES) if (texts.some((t) => pattern.test(t))) return kind;
  return null;
}

/** The principal the broker judged: User:<SASL user>, or what stands for it. */
export function principalOf(security: KafkaSecurity | undefined): string {
  const sasl = security?.sasl;
  if (!sasl) return 'User:ANONYMOUS (no SASL login)';
  if (sasl.mechanism === 'oauthbearer') return "the token's subject (BITPREDICT_KAFKA_SASL_OAUTH_TOKEN_FILE)";
  return `User:${sasl.username} (BITPREDICT_KAFKA_SASL_USERNAME)`;
}

const ACL_OPERATIONS: Record<AclResource, string> = {
  topic: 'Read, Write, Describe and Create on the topics',
  group: 'Read on the consumer group',
  'transactional id': 'Write and Describe on the transactional id',
  cluster: 'IdempotentWrite (every idempotent or transactional producer) and Create on the cluster',
};

/** ERR_KAFKA_ACL: the broker's authorizer refused the principal an operation on a kind of resource. */
export function aclRefusedError(security: KafkaSecurity | undefined, kind: AclResource, detail: string, cause: unknown): BitPredictError {
  return new BitPredictError(
    'ERR_KAFKA_ACL',
    `the Kafka broker refused ${principalOf(security)} access to a ${kind}: no ACL allows it (${detail}); grant it ${ACL_OPERATIONS[kind]}, or use a user that has them`,
    { cause, details: { resource: kind } },
  );
}

/** An ERR_KAFKA_ACL error with the names of the resources the caller was using; any other error unchanged. */
export function withAclResources(err: BitPredictError, resources: string): BitPredictError {
  if (err.code !== 'ERR_KAFKA_ACL' || resources === '') return err;
  return new BitPredictError('ERR_KAFKA_ACL', `${err.message} [${resources}]`, { cause: err.cause, details: { resources } });
}
