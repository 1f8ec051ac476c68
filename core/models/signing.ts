// Signed model announcements. Anyone who can write the `models` topic could otherwise change what
// the predictors serve, so the trainer and the CLIs that publish a model (train, promote,
// rollback, demo-train) sign every announcement with HMAC-SHA256, and the predictor loads only
// announcements whose signature checks out with a key it accepts (docs/deploy.md, "Model signing").
//
// The signature travels in headers of the models record (the Avro value is unchanged):
//   bitpredict-model-key-id          id of the key that signed (rotation: predictors accept a list)
//   bitpredict-model-signed-at       ms since the epoch, when it was signed
//   bitpredict-model-artifact-sha256 SHA-256 (hex) over the artifact's files (artifactDigest)
//   bitpredict-model-signature       hex HMAC-SHA256 of canonicalAnnouncement(...) under the key
// The MAC covers every field that decides what is served: the topic it was written to, name,
// version, artifact URI, the artifact's digest, the role (champion), feature-set version, training
// range, metrics, backend, code version, created, expiry and signing time. The predictor checks
// the artifact bytes it reads against the signed digest, so a replayed announcement whose artifact
// was swapped is refused, and it refuses an announcement signed earlier than one it already
// accepted (a replay of an older champion; a rollback is signed anew).
//
// Keys: BITPREDICT_MODEL_SIGNING_KEY or BITPREDICT_MODEL_SIGNING_KEY_FILE hold one or more keys,
// `[<id>:]<secret>`, one per line (or comma-separated); the first signs, all are accepted. Without
// an id the id is the first 12 hex digits of the secret's SHA-256. With neither set (the local
// demo), a key is generated once in <BITPREDICT_MODEL_STORE_DIR>/.signing-key (mode 0600) and used
// by every process sharing that store; BITPREDICT_MODEL_SIGNING=off turns signing and checking off
// (a warning at start and on every announcement loaded unchecked).
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { closeSync, linkSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { addSecrets } from '../redact.js';
import { BitPredictError } from '../errors.js';
import { readProblem, trimNewline } from '../connection-security.js';
import type { ModelAnnouncement } from '../../schemas/types.js';
import { META_FILE, MODEL_FILE, WEIGHTS_FILE } from './artifact.js';

/** The files the artifact digest covers, in order (the same files and order as kafka-artifact.ts publishes). */
const ARTIFACT_FILES = [META_FILE, MODEL_FILE, WEIGHTS_FILE] as const;

export const SIGNATURE_HEADERS = {
  keyId: 'bitpredict-model-key-id',
  signedAt: 'bitpredict-model-signed-at',
  artifactSha256: 'bitpredict-model-artifact-sha256',
  signature: 'bitpredict-model-signature',
} as const;

/** The canonical encoding's version tag: a change of the encoding is a new tag. */
const ENCODING = 'bitpredict-model-announcement/v1';
/** Every announcement on the models topic names the champion of its model name. */
const ROLE = 'champion';
/** Shortest secret accepted (bytes of its text): 32 is 256 bits of an `openssl rand -hex 16`, or half of -hex 32. */
export const MIN_SECRET_BYTES = 32;
const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;
/** The generated local key's file in the model store. */
export const GENERATED_KEY_FILE = '.signing-key';

export interface SigningKey {
  id: string;
  secret: Buffer;
}

export interface ModelSigning {
  /** required: sign, and load only signed announcements; off: neither (a warning). */
  mode: 'required' | 'off';
  /** The key announcements are signed with (the first of the ring); null when off. */
  signer: SigningKey | null;
  /** Every key accepted for verification, by id. */
  keys: ReadonlyMap<string, Buffer>;
  /** Where the keys come from, for messages (settings and paths, never a secret). */
  origin: string;
  /** The secrets, for the log redaction (core/redact.ts). */
  secrets: string[];
}

/** The facts a signature binds besides the announcement itself. */
export interface SignatureFacts {
  keyId: string;
  signedAt: number;
  artifactSha256: string;
  /** The topic the record is written to (with its environment prefix). */
  topic: string;
}

/** The bytes the MAC is computed over: a JSON array of every deciding field in a fixed order. */
export function canonicalAnnouncement(a: ModelAnnouncement, f: SignatureFacts): Buffer {
  const metrics = Object.keys(a.metrics)
    .sort()
    .map((k) => [k, a.metrics[k]]);
  return Buffer.from(
    JSON.stringify([
      ENCODING,
      f.topic,
      f.keyId,
      f.signedAt,
      ROLE,
      a.name,
      a.version,
      a.artifactUri,
      f.artifactSha256,
      a.featureSetVersion,
      a.trainedFrom,
      a.trainedTo,
      metrics,
      a.backend,
      a.codeVersion,
      a.createdAt,
      a.expiresAt,
    ]),
    'utf8',
  );
}

export function hmacHex(secret: Buffer, bytes: Buffer): string {
  return createHmac('sha256', secret).update(bytes).digest('hex');
}

/** The digest an announcement signs for its artifact: SHA-256 over "<file> <sha256 of file>\n" of each file, in publish order. */
export function artifactDigest(files: ReadonlyMap<string, Buffer>): string {
  const h = createHash('sha256');
  for (const file of ARTIFACT_FILES) {
    const bytes = files.get(file);
    if (bytes === undefined) throw new BitPredictError('ERR_VALIDATION', `artifact has no ${file}: cannot compute its digest`);
    h.update(`${file} ${createHash('sha256').update(bytes).digest('hex')}\n`);
  }
  return h.digest('hex');
}

/** The signature headers of an announcement written to `topic`. */
export function signAnnouncement(a: ModelAnnouncement, key: SigningKey, facts: Omit<SignatureFacts, 'keyId'>): Record<string, string> {
  const f: SignatureFacts = { ...facts, keyId: key.id };
  return {
    [SIGNATURE_HEADERS.keyId]: key.id,
    [SIGNATURE_HEADERS.signedAt]: String(f.signedAt),
    [SIGNATURE_HEADERS.artifactSha256]: f.artifactSha256,
    [SIGNATURE_HEADERS.signature]: hmacHex(key.secret, canonicalAnnouncement(a, f)),
  };
}

export type Verified =
  { ok: true; signed: true; keyId: string; signedAt: number; artifactSha256: string } | { ok: true; signed: false } | { ok: false; message: string };

const header = (headers: Readonly<Record<string, Buffer | string | undefined>>, name: string): string | undefined => {
  const v = headers[name];
  return v === undefined ? undefined : v.toString();
};

/**
 * Checks the signature headers of a models record against the accepted keys. Off: accepted
 * unchecked (signed: false). Every refusal says why and names the settings to check.
 */
export function verifyAnnouncement(
  a: ModelAnnouncement,
  headers: Readonly<Record<string, Buffer | string | undefined>>,
  signing: ModelSigning,
  topic: string,
): Verified {
  if (signing.mode === 'off') return { ok: true, signed: false };
  const keyId = header(headers, SIGNATURE_HEADERS.keyId);
  const signedAtText = header(headers, SIGNATURE_HEADERS.signedAt);
  const digest = header(headers, SIGNATURE_HEADERS.artifactSha256);
  const mac = header(headers, SIGNATURE_HEADERS.signature);
  if (keyId === undefined && mac === undefined)
    return { ok: false, message: `unsigned announcement refused (BITPREDICT_MODEL_SIGNING=required; the keys are ${signing.origin})` };
  if (keyId === undefined || signedAtText === undefined || digest === undefined || mac === undefined)
    return { ok: false, message: `announcement with an incomplete signature refused (headers ${Object.values(SIGNATURE_HEADERS).join(', ')} all needed)` };
  if (!/^\d{1,15}$/.test(signedAtText) || !/^[0-9a-f]{64}$/.test(digest) || !/^[0-9a-f]{64}$/.test(mac))
    return { ok: false, message: 'announcement with a malformed signature refused (signed-at, artifact-sha256 or signature not in their format)' };
  const secret = signing.keys.get(keyId);
  if (secret === undefined)
    return {
      ok: false,
      message: `announcement signed with key id ${JSON.stringify(keyId.slice(0, 64))} refused: not one of the accepted keys [${[...signing.keys.keys()].join(', ')}] (${signing.origin})`,
    };
  const signedAt = Number(signedAtText);
  const want = Buffer.from(hmacHex(secret, canonicalAnnouncement(a, { keyId, signedAt, artifactSha256: digest, topic })), 'hex');
  if (!timingSafeEqual(want, Buffer.from(mac, 'hex')))
    return {
      ok: false,
      message: `announcement signature does not match under key ${keyId}: a field was changed after signing, or another key with this id signed it`,
    };
  return { ok: true, signed: true, keyId, signedAt, artifactSha256: digest };
}

/** Parses a key ring: `[<id>:]<secret>` entries, one per line or comma-separated (lines starting with # are comments); `what` names the setting. */
export function parseKeyRing(text: string, what: string): SigningKey[] {
  const entries = text
    .split(/\r?\n/)
    .filter((line) => !line.trim().startsWith('#'))
    .flatMap((line) => line.split(','))
    .map((e) => e.trim())
    .filter((e) => e !== '');
  if (entries.length === 0) throw new BitPredictError('ERR_CONFIG_INVALID', `${what} holds no key`);
  const out: SigningKey[] = [];
  const problems: string[] = [];
  entries.forEach((entry, i) => {
    const m = /^([^:\s]{1,64}):(.+)$/.exec(entry);
    const secretText = m ? (m[2] as string) : entry;
    const id = m ? (m[1] as string) : createHash('sha256').update(secretText, 'utf8').digest('hex').slice(0, 12);
    if (!KEY_ID.test(id)) problems.push(`key ${i + 1}: id is not [A-Za-z0-9._-]{1,64}`);
    else if (Buffer.byteLength(secretText, 'utf8') < MIN_SECRET_BYTES)
      problems.push(`key ${i + 1} (id ${id}): secret shorter than ${MIN_SECRET_BYTES} bytes (make one with: openssl rand -hex 32)`);
    else if (out.some((k) => k.id === id)) problems.push(`key ${i + 1}: id ${id} given twice`);
    else out.push({ id, secret: Buffer.from(secretText, 'utf8') });
  });
  if (problems.length > 0) throw new BitPredictError('ERR_CONFIG_INVALID', `${what}: ${problems.join('; ')}`, { details: { problems } });
  return out;
}

/** Reads the store's generated key, creating it (atomically: the first process wins) when absent. */
function generatedKey(storeDir: string): { text: string; path: string } {
  const dir = resolve(storeDir);
  const path = join(dir, GENERATED_KEY_FILE);
  try {
    return { text: readFileSync(path, 'utf8'), path };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
      throw new BitPredictError('ERR_CONFIG_INVALID', `the generated model signing key ${path} cannot be read (${readProblem(err)})`, { cause: err });
  }
  mkdirSync(dir, { recursive: true });
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, `local:${randomBytes(32).toString('hex')}\n`);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, path); // fails when another process created it first: theirs is used
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    unlinkSync(tmp);
  }
  return { text: readFileSync(path, 'utf8'), path };
}

export type SigningSettings = Pick<Config['models'], 'signing' | 'signingKey' | 'signingKeyFile' | 'storeDir'>;

/**
 * The signing keys of BITPREDICT_MODEL_SIGNING*; read once at start. Bad settings fail with
 * ERR_CONFIG_INVALID naming them (never a secret).
 */
export function modelSigningFromConfig(cfg: SigningSettings, deps: { readFile?: (path: string) => string } = {}): ModelSigning {
  const read = deps.readFile ?? ((p: string) => readFileSync(p, 'utf8'));
  if (cfg.signingKey !== '' && cfg.signingKeyFile !== '')
    throw new BitPredictError('ERR_CONFIG_INVALID', 'BITPREDICT_MODEL_SIGNING_KEY and BITPREDICT_MODEL_SIGNING_KEY_FILE are both set: set one of them');
  if (cfg.signing === 'off') {
    if (cfg.signingKey !== '' || cfg.signingKeyFile !== '')
      throw new BitPredictError(
        'ERR_CONFIG_INVALID',
        'BITPREDICT_MODEL_SIGNING=off but a signing key is set (BITPREDICT_MODEL_SIGNING_KEY or _KEY_FILE): drop one of the two',
      );
    return { mode: 'off', signer: null, keys: new Map(), origin: 'BITPREDICT_MODEL_SIGNING=off', secrets: [] };
  }
  let text: string;
  let origin: string;
  if (cfg.signingKeyFile !== '') {
    origin = `BITPREDICT_MODEL_SIGNING_KEY_FILE=${cfg.signingKeyFile}`;
    try {
      text = trimNewline(read(cfg.signingKeyFile));
    } catch (err) {
      throw new BitPredictError('ERR_CONFIG_INVALID', `${origin} cannot be read (${readProblem(err)})`, { cause: err });
    }
  } else if (cfg.signingKey !== '') {
    origin = 'BITPREDICT_MODEL_SIGNING_KEY';
    text = cfg.signingKey;
  } else {
    const g = generatedKey(cfg.storeDir);
    origin = `the key generated in ${g.path} (BITPREDICT_MODEL_SIGNING_KEY(_FILE) not set)`;
    text = g.text;
  }
  const ring = parseKeyRing(text, origin);
  return {
    mode: 'required',
    signer: ring[0] as SigningKey,
    keys: new Map(ring.map((k) => [k.id, k.secret])),
    origin,
    secrets: ring.map((k) => k.secret.toString('utf8')),
  };
}

/** A signing set-up from explicit keys (tests, tools); the first key signs. */
export function signingFromKeys(keys: SigningKey[], origin = 'test keys'): ModelSigning {
  if (keys.length === 0) throw new BitPredictError('ERR_CONFIG_INVALID', 'no signing key given');
  return {
    mode: 'required',
    signer: keys[0] as SigningKey,
    keys: new Map(keys.map((k) => [k.id, k.secret])),
    origin,
    secrets: keys.map((k) => k.secret.toString('utf8')),
  };
}

/**
 * The signing keys of the configuration, for a service starting: a warning when signing is off or
 * the key is the store's generated one (fine for one machine, not for a cluster); the secrets go
 * to the log redaction.
 */
export function startSigning(cfg: SigningSettings, logger: Pick<Logger, 'warn' | 'info'>): ModelSigning {
  const signing = modelSigningFromConfig(cfg);
  addSecrets(signing.secrets);
  if (signing.mode === 'off')
    logger.warn(
      { setting: 'BITPREDICT_MODEL_SIGNING' },
      'model signing is off (BITPREDICT_MODEL_SIGNING=off): announcements are neither signed nor checked; anyone who can write the models topic can change the served model',
    );
  else if (cfg.signingKey === '' && cfg.signingKeyFile === '')
    logger.warn(
      { setting: 'BITPREDICT_MODEL_SIGNING_KEY_FILE', keys: signing.origin },
      'model announcements signed with the key generated in the model store: set BITPREDICT_MODEL_SIGNING_KEY_FILE on every trainer and predictor when they do not share that folder',
    );
  else logger.info({ keyIds: [...signing.keys.keys()], signsWith: signing.signer?.id, keys: signing.origin }, 'model signing keys loaded');
  return signing;
}

/** Signing off (BITPREDICT_MODEL_SIGNING=off): nothing signed, nothing checked. */
export const SIGNING_OFF: ModelSigning = Object.freeze({
  mode: 'off',
  signer: null,
  keys: new Map<string, Buffer>(),
  origin: 'BITPREDICT_MODEL_SIGNING=off',
  secrets: [],
});
