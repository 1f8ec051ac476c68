// Pure description of the local stack: where every file lives and which address every server
// listens on, derived from the stack's configuration alone. Nothing here touches the disk or the network, so the
// rendering of server.properties and the addresses can be unit-tested.
import { isAbsolute, join, resolve } from 'node:path';
import type { StackConfig } from './config.js';
import { BitPredictError } from '../../core/errors.js';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export interface StackLayout {
  readonly rootDir: string;
  readonly dir: string;
  readonly pomFile: string;
  readonly log4jFile: string;
  readonly logsDir: string;
  readonly pidsDir: string;
  readonly kafka: {
    readonly version: string;
    readonly homeDir: string;
    readonly libsDir: string;
    readonly marker: string;
    readonly configDir: string;
    readonly propertiesFile: string;
    readonly dataDir: string;
    readonly clusterIdFile: string;
    readonly listen: HostPort;
    readonly controller: HostPort;
    /** The SASL_SSL listener beside the plaintext one, and the files a client of it needs. */
    readonly secure: SecureListenerLayout;
    readonly heap: string;
    readonly outFile: string;
    readonly serverLog: string;
    readonly pidFile: string;
  };
  readonly registry: {
    readonly version: string;
    readonly homeDir: string;
    readonly marker: string;
    readonly downloadDir: string;
    /** H2 database of the registry; kept with the Kafka data so schema ids stay valid across restarts. */
    readonly dataDir: string;
    readonly listen: HostPort;
    readonly managementPort: number;
    readonly heap: string;
    /** Confluent-compatible base URL as configured (BITPREDICT_REGISTRY_URL), without trailing slash. */
    readonly url: string;
    readonly outFile: string;
    readonly pidFile: string;
  };
  readonly redis: {
    readonly listen: HostPort;
    readonly password: string | null;
    readonly dataDir: string;
    readonly logFile: string;
    readonly pidFile: string;
  };
  /** What `stack up --secure` adds: the registry behind basic auth and TLS, a Redis with ACL users and TLS. */
  readonly secureMode: SecureModeLayout;
  readonly startTimeoutMs: number;
}

export interface SecureModeLayout {
  /** Present while secure mode is on: `up --secure` writes it, `down` removes it, `up` and `status` read it. */
  readonly modeFile: string;
  /** The keystore password alone, for the PEM export (the stack's Java tool reads secrets from files). */
  readonly keystorePasswordFile: string;
  readonly registryProxy: {
    readonly listen: HostPort;
    /** https://host:port + the path of BITPREDICT_REGISTRY_URL: what BITPREDICT_REGISTRY_URL is in client.env. */
    readonly url: string;
    /** Where the proxy forwards to: the registry's own address. */
    readonly target: HostPort;
    readonly user: string;
    readonly passwordFile: string;
    /** The proxy's settings (paths, no secret), handed to it as its only argument. */
    readonly configFile: string;
    readonly logFile: string;
    readonly pidFile: string;
  };
  readonly redis: {
    readonly listen: HostPort;
    readonly url: string;
    /** The server certificate and key as PEM (redis-server reads PEM), exported from the broker's keystore. */
    readonly certPem: string;
    readonly keyPem: string;
    /** redis.conf with the ACL users (their passwords as SHA-256), mode 600. */
    readonly confFile: string;
    /** The ACL user the services use (every command and key) and one that may only read. */
    readonly user: string;
    readonly passwordFile: string;
    readonly readOnlyUser: string;
    readonly readOnlyPasswordFile: string;
    readonly dataDir: string;
    readonly logFile: string;
    readonly pidFile: string;
  };
  /** The Java helper (deployment/local/StackTool.java): PEM export and Kafka ACLs. */
  readonly toolSource: string;
}

export interface SecureListenerLayout {
  readonly listen: HostPort;
  /** <stack dir>/secure: the CA, the broker's keystore, the generated passwords, client.env. */
  readonly dir: string;
  /** The CA's certificate (PEM): what BITPREDICT_KAFKA_SSL_CA_FILE points at. */
  readonly caPem: string;
  /** The CA's key pair (PKCS12), kept to sign a new broker certificate. */
  readonly caStore: string;
  /** The broker's key and certificate chain (PKCS12). */
  readonly keystore: string;
  /** Generated passwords of the keystores and the SASL user (JSON, mode 600). */
  readonly secretsFile: string;
  /** The SASL user's password alone: what BITPREDICT_KAFKA_SASL_PASSWORD_FILE points at. */
  readonly passwordFile: string;
  /** BITPREDICT_KAFKA_* settings of a client of this listener, to source or pass to --env-file. */
  readonly clientEnv: string;
  /** In the data folder, so `down --purge` drops it with the SCRAM credentials it records. */
  readonly scramMarker: string;
  /** The SASL user (one user for PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512). */
  readonly user: string;
  /** A SCRAM user (same password) with no ACL: what a service with a forgotten ACL meets. */
  readonly noAclUser: string;
  /** In the data folder: the ACLs of `user` and the SCRAM credentials of `noAclUser` are made. */
  readonly aclMarker: string;
}

/** The generated secrets server.properties needs (kept in SecureListenerLayout.secretsFile). */
export interface BrokerSecrets {
  readonly keystorePassword: string;
  readonly userPassword: string;
}

/** Parses "host:port" (the form of BITPREDICT_KAFKA_BROKERS entries). */
export function parseHostPort(text: string, key: string): HostPort {
  const m = /^\[?([^\]\s]+?)\]?:(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || !m[1] || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new BitPredictError('ERR_STACK', `${key}: "${text}" is not host:port with a port in 1..65535`);
  }
  return { host: m[1], port };
}

function urlHostPort(text: string, key: string, defaultPorts: Record<string, number>): { hp: HostPort; url: URL } {
  let url: URL;
  try {
    url = new URL(text);
  } catch (err) {
    throw new BitPredictError('ERR_STACK', `${key}: "${text}" is not a URL`, { cause: err });
  }
  const port = url.port === '' ? defaultPorts[url.protocol] : Number(url.port);
  if (port === undefined) throw new BitPredictError('ERR_STACK', `${key}: unsupported scheme "${url.protocol}" in "${text}"`);
  // URL keeps IPv6 literals in brackets; listeners and sockets want the bare address.
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw new BitPredictError('ERR_STACK', `${key}: "${text}" has no host`);
  return { hp: { host, port }, url };
}

export function formatHostPort(hp: HostPort): string {
  return hp.host.includes(':') ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}

export function resolveLayout(config: StackConfig, rootDir: string): StackLayout {
  const s = config.stack;
  const dir = isAbsolute(s.dir) ? s.dir : resolve(rootDir, s.dir);
  const logsDir = join(dir, 'logs');
  const pidsDir = join(dir, 'pids');
  const firstBroker = config.kafka.brokers[0];
  if (firstBroker === undefined) throw new BitPredictError('ERR_STACK', 'BITPREDICT_KAFKA_BROKERS is empty');
  const kafkaListen = parseHostPort(firstBroker, 'BITPREDICT_KAFKA_BROKERS');
  const registry = urlHostPort(config.registry.url, 'BITPREDICT_REGISTRY_URL', { 'http:': 80 });
  const redis = urlHostPort(config.redis.url, 'BITPREDICT_REDIS_URL', { 'redis:': 6379 });
  const kafkaHome = join(dir, `kafka-${s.kafkaVersion}`);
  const registryHome = join(dir, `apicurio-${s.apicurioVersion}`);
  const kafkaConfigDir = join(dir, 'kafka');
  const secureDir = join(dir, 'secure');
  const kafkaDataDir = join(kafkaConfigDir, 'data');
  return {
    rootDir,
    dir,
    pomFile: join(rootDir, 'deployment', 'local', 'pom.xml'),
    log4jFile: join(rootDir, 'deployment', 'local', 'log4j2.properties'),
    logsDir,
    pidsDir,
    kafka: {
      version: s.kafkaVersion,
      homeDir: kafkaHome,
      libsDir: join(kafkaHome, 'libs'),
      marker: join(kafkaHome, '.complete'),
      configDir: kafkaConfigDir,
      propertiesFile: join(kafkaConfigDir, 'server.properties'),
      dataDir: kafkaDataDir,
      clusterIdFile: join(kafkaConfigDir, 'cluster.id'),
      listen: kafkaListen,
      // The controller listens beside the broker, on the same interface.
      controller: { host: kafkaListen.host, port: s.kafkaControllerPort },
      secure: {
        listen: { host: kafkaListen.host, port: s.kafkaSecurePort },
        dir: secureDir,
        caPem: join(secureDir, 'ca.pem'),
        caStore: join(secureDir, 'ca.p12'),
        keystore: join(secureDir, 'broker.p12'),
        secretsFile: join(secureDir, 'secrets.json'),
        passwordFile: join(secureDir, 'password'),
        clientEnv: join(secureDir, 'client.env'),
        scramMarker: join(kafkaDataDir, 'bitpredict-scram-users'),
        user: 'bitpredict',
        noAclUser: 'bitpredict-noacl',
        aclMarker: join(kafkaDataDir, 'bitpredict-acls'),
      },
      heap: s.kafkaHeap,
      outFile: join(logsDir, 'kafka.out'),
      serverLog: join(logsDir, 'kafka-server.log'),
      pidFile: join(pidsDir, 'kafka.pid'),
    },
    registry: {
      version: s.apicurioVersion,
      homeDir: registryHome,
      marker: join(registryHome, '.complete'),
      downloadDir: join(dir, 'downloads'),
      dataDir: join(dir, 'registry', 'data'),
      listen: registry.hp,
      managementPort: s.registryManagementPort,
      heap: s.registryHeap,
      url: config.registry.url.replace(/\/+$/, ''),
      outFile: join(logsDir, 'apicurio.out'),
      pidFile: join(pidsDir, 'apicurio.pid'),
    },
    redis: {
      listen: redis.hp,
      password: redis.url.password === '' ? null : decodeURIComponent(redis.url.password),
      dataDir: join(dir, 'redis'),
      logFile: join(logsDir, 'redis.log'),
      pidFile: join(pidsDir, 'redis.pid'),
    },
    secureMode: secureModeLayout(dir, secureDir, logsDir, pidsDir, registry, redis.hp, s, rootDir),
    startTimeoutMs: s.startTimeoutMs,
  };
}

function secureModeLayout(
  dir: string,
  secureDir: string,
  logsDir: string,
  pidsDir: string,
  registry: { hp: HostPort; url: URL },
  redisHp: HostPort,
  s: StackConfig['stack'],
  rootDir: string,
): SecureModeLayout {
  const proxyListen = { host: registry.hp.host, port: s.registrySecurePort };
  const redisListen = { host: redisHp.host, port: s.redisSecurePort };
  return {
    modeFile: join(secureDir, 'mode'),
    keystorePasswordFile: join(secureDir, 'keystore-password'),
    registryProxy: {
      listen: proxyListen,
      url: `https://${formatHostPort(proxyListen)}${registry.url.pathname.replace(/\/+$/, '')}`,
      target: registry.hp,
      user: 'bitpredict',
      passwordFile: join(secureDir, 'registry-password'),
      configFile: join(secureDir, 'registry-proxy.json'),
      logFile: join(logsDir, 'registry-proxy.log'),
      pidFile: join(pidsDir, 'registry-proxy.pid'),
    },
    redis: {
      listen: redisListen,
      url: `rediss://${formatHostPort(redisListen)}`,
      certPem: join(secureDir, 'server.pem'),
      keyPem: join(secureDir, 'server-key.pem'),
      confFile: join(secureDir, 'redis.conf'),
      user: 'bitpredict',
      passwordFile: join(secureDir, 'redis-password'),
      readOnlyUser: 'bitpredict-readonly',
      readOnlyPasswordFile: join(secureDir, 'redis-readonly-password'),
      dataDir: join(dir, 'redis-tls'),
      logFile: join(logsDir, 'redis-tls.log'),
      pidFile: join(pidsDir, 'redis-tls.pid'),
    },
    toolSource: join(rootDir, 'deployment', 'local', 'StackTool.java'),
  };
}

/** Java .properties value escaping: backslashes, and line breaks that would end the entry. */
function propValue(v: string | number): string {
  const text = String(v);
  if (/[\r\n]/.test(text)) throw new BitPredictError('ERR_STACK', `server.properties value contains a line break: ${JSON.stringify(text)}`);
  return text.replace(/\\/g, '\\\\');
}

/**
 * server.properties of a single-node KRaft Kafka (combined broker + controller). Every internal
 * topic gets replication factor 1 and min ISR 1: with the defaults (3) on one node the offsets
 * and transaction topics are never created and clients loop on "coordinator not available".
 */
export function renderServerProperties(layout: Pick<StackLayout, 'kafka'>, secrets: BrokerSecrets): string {
  const k = layout.kafka;
  const broker = formatHostPort(k.listen);
  const controller = formatHostPort(k.controller);
  const secure = formatHostPort(k.secure.listen);
  const entries: [string, string | number][] = [
    ['process.roles', 'broker,controller'],
    ['node.id', 1],
    // Dynamic quorum (KIP-853): formatted with --standalone, so no controller.quorum.voters.
    ['controller.quorum.bootstrap.servers', controller],
    ['listeners', `PLAINTEXT://${broker},CONTROLLER://${controller},SASL_SSL://${secure}`],
    ['advertised.listeners', `PLAINTEXT://${broker},SASL_SSL://${secure}`],
    ['controller.listener.names', 'CONTROLLER'],
    ['inter.broker.listener.name', 'PLAINTEXT'],
    ['listener.security.protocol.map', 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL'],
    // ACLs always on (not only with --secure, so the broker never restarts to switch): the
    // plaintext and controller listeners authenticate nobody, so their principal
    // (User:ANONYMOUS) is a super user and everything on the plaintext port works as before;
    // on SASL_SSL the ACLs decide (kafka.ts makes them at first start: see StackTool.java).
    ['authorizer.class.name', 'org.apache.kafka.metadata.authorizer.StandardAuthorizer'],
    ['super.users', 'User:ANONYMOUS'],
    ...secureListenerEntries(k.secure, secrets),
    ['log.dirs', k.dataDir],
    ['num.partitions', 3],
    ['default.replication.factor', 1],
    ['min.insync.replicas', 1],
    // Topics are created explicitly (with their partition count); a typo must fail, not create a topic.
    ['auto.create.topics.enable', 'false'],
    ['offsets.topic.replication.factor', 1],
    ['transaction.state.log.replication.factor', 1],
    ['transaction.state.log.min.isr', 1],
    ['share.coordinator.state.topic.replication.factor', 1],
    ['share.coordinator.state.topic.min.isr', 1],
    // Tests create fresh groups all the time; the default 3 s delay would slow every one of them.
    ['group.initial.rebalance.delay.ms', 0],
    ['num.recovery.threads.per.data.dir', 1],
  ];
  const lines = ['# Generated by `bitpredict stack up` from BITPREDICT_* config; edits are overwritten.'];
  for (const [key, value] of entries) lines.push(`${key}=${propValue(value)}`);
  return `${lines.join('\n')}\n`;
}

/**
 * The SASL_SSL listener: TLS with the stack's own CA, and the logins a production cluster offers
 * (Strimzi: SCRAM-SHA-512; Confluent Cloud: PLAIN; MSK: SCRAM-SHA-512), so the same client
 * settings are tested here. SCRAM credentials live in the cluster metadata (added at format time
 * or by `kafka-configs` after start); the PLAIN user is declared in the JAAS line. OAUTHBEARER
 * uses Kafka's unsecured validator (unsigned JWTs): enough to test the token plumbing, never a
 * production setting. The authorizer (above) decides what each user may do.
 */
function secureListenerEntries(s: SecureListenerLayout, secrets: BrokerSecrets): [string, string | number][] {
  const jaas = (module: string, options = ''): string => `${module} required${options};`;
  return [
    ['sasl.enabled.mechanisms', 'PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER'],
    [
      'listener.name.sasl_ssl.plain.sasl.jaas.config',
      jaas('org.apache.kafka.common.security.plain.PlainLoginModule', ` user_${s.user}="${secrets.userPassword}"`),
    ],
    ['listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config', jaas('org.apache.kafka.common.security.scram.ScramLoginModule')],
    ['listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config', jaas('org.apache.kafka.common.security.scram.ScramLoginModule')],
    [
      'listener.name.sasl_ssl.oauthbearer.sasl.jaas.config',
      jaas('org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule', ` unsecuredLoginStringClaim_sub="${s.user}"`),
    ],
    ['ssl.keystore.type', 'PKCS12'],
    ['ssl.keystore.location', s.keystore],
    ['ssl.keystore.password', secrets.keystorePassword],
    ['ssl.key.password', secrets.keystorePassword],
    ['ssl.client.auth', 'none'],
  ];
}
