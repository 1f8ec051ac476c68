// The local Kafka's SASL_SSL listener: a CA and a broker certificate made at first start with the
// JDK's keytool (the stack needs a JDK anyway, so no openssl is required), generated passwords,
// and the files a client needs (ca.pem, password, client.env). Everything lives in
// <stack dir>/secure and is made once: later starts reuse it, so a client's CA file stays valid.
// SCRAM credentials are cluster metadata: a fresh data folder gets them at format time
// (StorageTool --add-scram); a data folder formatted by an older stack gets them from
// kafka-configs once the broker runs (ensureScramUsers), which is the upgrade path.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { BitPredictError } from '../../core/errors.js';
import type { JavaRuntime } from './java.js';
import { formatHostPort, type BrokerSecrets, type SecureListenerLayout } from './layout.js';
import { lastLine, readTextOrNull, runSync } from './proc.js';

export const SCRAM_MECHANISMS = ['SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;

/** The keytool beside the java that runs Kafka (JDKs and JREs ship both in bin/). */
export function keytoolOf(jvm: JavaRuntime): string {
  return join(dirname(jvm.path), 'keytool');
}

function keytool(tool: string, args: string[], what: string): void {
  const r = runSync(tool, args, { timeoutMs: 60_000 });
  if (r.missing) throw new BitPredictError('ERR_STACK', `keytool not found at ${tool}; the local Kafka's TLS listener needs a full JDK 17 or later`);
  if (r.status !== 0) {
    throw new BitPredictError('ERR_STACK', `keytool failed to ${what} (exit ${r.status}): ${lastLine(r.output)}`, {
      details: { output: r.output.slice(-4000) },
    });
  }
}

const secret = (): string => randomBytes(18).toString('hex');

/**
 * A certificate authority: its key pair in `store` (PKCS12) and its certificate as PEM in `pem`.
 * Exported for tests that need a CA the broker does not use.
 */
export function makeCertificateAuthority(tool: string, opts: { store: string; pem: string; password: string; name: string; days?: number }): void {
  const common = ['-keystore', opts.store, '-storetype', 'PKCS12', '-storepass', opts.password, '-alias', 'ca'];
  keytool(
    tool,
    ['-genkeypair', ...common, '-keyalg', 'RSA', '-keysize', '2048', '-dname', `CN=${opts.name}`, '-ext', 'bc:c', '-validity', String(opts.days ?? 3650)],
    'make the CA',
  );
  keytool(tool, ['-exportcert', ...common, '-rfc', '-file', opts.pem], "export the CA's certificate");
  chmodSync(opts.store, 0o600);
}

/** The certificate's subject alternative names: the listen host, plus localhost and 127.0.0.1. */
export function subjectAltNames(host: string): string {
  const isIp = /^[\d.]+$/.test(host) || host.includes(':');
  const names = new Set([`${isIp ? 'IP' : 'DNS'}:${host}`, 'DNS:localhost', 'IP:127.0.0.1']);
  return [...names].join(',');
}

/** The broker's key pair, signed by the CA, with the CA in its chain, in one PKCS12 keystore. */
function makeBrokerKeystore(tool: string, s: SecureListenerLayout, secrets: BrokerSecrets): void {
  const csr = join(s.dir, 'broker.csr');
  const signed = join(s.dir, 'broker.pem');
  const broker = ['-keystore', s.keystore, '-storetype', 'PKCS12', '-storepass', secrets.keystorePassword];
  const ca = ['-keystore', s.caStore, '-storetype', 'PKCS12', '-storepass', secrets.keystorePassword, '-alias', 'ca'];
  rmSync(s.keystore, { force: true });
  keytool(
    tool,
    ['-genkeypair', ...broker, '-alias', 'broker', '-keyalg', 'RSA', '-keysize', '2048', '-dname', `CN=${s.listen.host}`, '-validity', '825'],
    "make the broker's key",
  );
  keytool(tool, ['-certreq', ...broker, '-alias', 'broker', '-file', csr], 'make a signing request');
  keytool(
    tool,
    [
      '-gencert',
      ...ca,
      '-infile',
      csr,
      '-outfile',
      signed,
      '-rfc',
      '-validity',
      '825',
      '-ext',
      `SAN=${subjectAltNames(s.listen.host)}`,
      '-ext',
      'KU=digitalSignature,keyEncipherment',
      '-ext',
      'EKU=serverAuth',
    ],
    "sign the broker's certificate",
  );
  keytool(tool, ['-importcert', ...broker, '-alias', 'ca', '-file', s.caPem, '-noprompt'], 'add the CA to the keystore');
  keytool(tool, ['-importcert', ...broker, '-alias', 'broker', '-file', signed, '-noprompt'], "add the broker's signed certificate");
  rmSync(csr, { force: true });
  chmodSync(s.keystore, 0o600);
}

function readSecrets(file: string): BrokerSecrets | null {
  const text = readTextOrNull(file);
  if (text === null) return null;
  try {
    const v = JSON.parse(text) as Partial<BrokerSecrets>;
    return typeof v.keystorePassword === 'string' && typeof v.userPassword === 'string'
      ? { keystorePassword: v.keystorePassword, userPassword: v.userPassword }
      : null;
  } catch {
    return null;
  }
}

function writePrivate(file: string, text: string): void {
  writeFileSync(file, text, { mode: 0o600 });
  chmodSync(file, 0o600);
}

/** The settings of a client of the secure listener, as an env file (SCRAM-SHA-512, the password from its file). */
export function renderClientEnv(s: SecureListenerLayout): string {
  return [
    '# A client of the local Kafka over SASL_SSL (written by `bitpredict stack up`). Use:',
    '#   set -a; . .stack/secure/client.env; set +a',
    '# PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 all take this user and password.',
    `BITPREDICT_KAFKA_BROKERS=${formatHostPort(s.listen)}`,
    'BITPREDICT_KAFKA_SECURITY_PROTOCOL=SASL_SSL',
    `BITPREDICT_KAFKA_SSL_CA_FILE=${s.caPem}`,
    'BITPREDICT_KAFKA_SASL_MECHANISM=SCRAM-SHA-512',
    `BITPREDICT_KAFKA_SASL_USERNAME=${s.user}`,
    `BITPREDICT_KAFKA_SASL_PASSWORD_FILE=${s.passwordFile}`,
    '',
  ].join('\n');
}

/**
 * Makes what the secure listener needs, once: passwords, the CA, the broker's keystore and the
 * client files. Returns the secrets server.properties needs. `say` reports what was made.
 */
export function ensureSecureMaterial(s: SecureListenerLayout, tool: string, say: (line: string) => void): BrokerSecrets {
  mkdirSync(s.dir, { recursive: true, mode: 0o700 });
  let secrets = readSecrets(s.secretsFile);
  if (secrets === null) {
    secrets = { keystorePassword: secret(), userPassword: secret() };
    // New passwords make the old keystores unreadable: start those over too.
    for (const f of [s.caStore, s.caPem, s.keystore]) rmSync(f, { force: true });
    writePrivate(s.secretsFile, `${JSON.stringify(secrets, null, 2)}\n`);
  }
  if (!existsSync(s.caStore) || !existsSync(s.caPem)) {
    say(`kafka: making a CA for the SASL_SSL listener (${s.caPem})...`);
    rmSync(s.caStore, { force: true });
    makeCertificateAuthority(tool, { store: s.caStore, pem: s.caPem, password: secrets.keystorePassword, name: 'BitPredict local stack CA' });
    rmSync(s.keystore, { force: true });
  }
  if (!existsSync(s.keystore)) {
    say(`kafka: making the broker certificate for ${formatHostPort(s.listen)} (signed by ${s.caPem})`);
    makeBrokerKeystore(tool, s, secrets);
  }
  if (readTextOrNull(s.passwordFile) !== secrets.userPassword) writePrivate(s.passwordFile, secrets.userPassword);
  const env = renderClientEnv(s);
  if (readTextOrNull(s.clientEnv) !== env) writeFileSync(s.clientEnv, env);
  return secrets;
}

/** StorageTool arguments that add the SCRAM user at format time. */
export function formatScramArgs(s: SecureListenerLayout, secrets: BrokerSecrets): string[] {
  return SCRAM_MECHANISMS.flatMap((m) => ['--add-scram', `${m}=[name=${s.user},password=${secrets.userPassword}]`]);
}

/**
 * Adds the SCRAM user to a running broker whose data folder does not have it yet (formatted by a
 * stack from before the secure listener). The marker in the data folder records that it is done.
 */
export function ensureScramUsers(opts: {
  secure: SecureListenerLayout;
  secrets: BrokerSecrets;
  jvm: JavaRuntime;
  libsDir: string;
  log4jFile: string;
  logsDir: string;
  bootstrap: string;
  say: (line: string) => void;
}): void {
  const { secure: s, secrets } = opts;
  if (existsSync(s.scramMarker)) return;
  opts.say(`kafka: adding the SCRAM user "${s.user}" (this data folder was formatted without it)...`);
  // One mechanism per request: KRaft refuses to alter one user's credentials twice in a request.
  for (const mechanism of SCRAM_MECHANISMS) addScramCredential(opts, `${mechanism}=[password=${secrets.userPassword}]`);
  writeFileSync(s.scramMarker, `${SCRAM_MECHANISMS.join(',')} user ${s.user}\n`);
}

function addScramCredential(opts: Parameters<typeof ensureScramUsers>[0], config: string): void {
  const { secure: s, secrets } = opts;
  const r = runSync(
    opts.jvm.path,
    [
      '-Xmx128m',
      `-Dlog4j2.configurationFile=${opts.log4jFile}`,
      `-Dkafka.logs.dir=${opts.logsDir}`,
      '-cp',
      `${opts.libsDir}/*`,
      'kafka.admin.ConfigCommand',
      '--bootstrap-server',
      opts.bootstrap,
      '--alter',
      '--add-config',
      config,
      '--entity-type',
      'users',
      '--entity-name',
      s.user,
    ],
    { timeoutMs: 60_000 },
  );
  if (r.status !== 0) {
    // The output may echo the command line; keep the password out of the message.
    const out = r.output.split(secrets.userPassword).join('***');
    throw new BitPredictError('ERR_STACK', `adding the SCRAM user to the local Kafka failed (exit ${r.status}): ${lastLine(out)}`, {
      details: { output: out.slice(-4000) },
    });
  }
}

/** What ensureAcls makes (StackTool.java acls), recorded in the marker. */
const ACL_SET =
  'v2: user: All on topics, groups, transactional ids *; IdempotentWrite, Create, Describe, DescribeConfigs, ClusterAction on the cluster; no-acl user: SCRAM only\n';

/** True when the data folder has the ACLs this stack makes. */
export function aclsCurrent(s: SecureListenerLayout): boolean {
  return readTextOrNull(s.aclMarker) === ACL_SET;
}

/** Runs the stack's Java helper (deployment/local/StackTool.java) on Kafka's classpath. */
export function runStackTool(opts: { jvm: JavaRuntime; libsDir: string; source: string; args: string[]; what: string; hide?: readonly string[] }): string {
  const r = runSync(opts.jvm.path, ['-Xmx128m', '-cp', `${opts.libsDir}/*`, opts.source, ...opts.args], { timeoutMs: 120_000 });
  const clean = (text: string): string => (opts.hide ?? []).reduce((t, h) => (h === '' ? t : t.split(h).join('***')), text);
  if (r.missing) throw new BitPredictError('ERR_STACK', `java not found at ${opts.jvm.path}`);
  if (r.status !== 0) {
    throw new BitPredictError('ERR_STACK', `${opts.what} failed (exit ${r.status}): ${lastLine(clean(r.output))}`, {
      details: { output: clean(r.output).slice(-4000) },
    });
  }
  return clean(r.output);
}

/**
 * The ACLs of the SASL user (every topic, group and transactional id, as the services need) and
 * the SCRAM credentials of the user without ACLs, once per data folder (both are cluster
 * metadata). Made over the plaintext listener, whose principal is a super user.
 */
export function ensureAcls(opts: {
  secure: SecureListenerLayout;
  jvm: JavaRuntime;
  libsDir: string;
  toolSource: string;
  bootstrap: string;
  say: (line: string) => void;
}): void {
  const s = opts.secure;
  // The marker names the ACL set it made: a stack with a changed set adds what is new (idempotent).
  if (readTextOrNull(s.aclMarker) === ACL_SET) return;
  opts.say(`kafka: adding the ACLs of "${s.user}" and the user "${s.noAclUser}" (no ACLs)...`);
  runStackTool({
    jvm: opts.jvm,
    libsDir: opts.libsDir,
    source: opts.toolSource,
    args: ['acls', opts.bootstrap, s.user, s.passwordFile, s.noAclUser],
    what: 'adding the Kafka ACLs',
  });
  writeFileSync(s.aclMarker, ACL_SET);
}
