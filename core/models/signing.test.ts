// The announcement signature: the canonical encoding and the HMAC against values computed outside
// this code (openssl, sha256sum), the key ring (ids, rotation, bad keys), the settings (file,
// value, off, the generated local key) and every refusal of verifyAnnouncement.
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelAnnouncement } from '../../schemas/types.js';
import {
  GENERATED_KEY_FILE,
  SIGNATURE_HEADERS,
  artifactDigest,
  canonicalAnnouncement,
  hmacHex,
  modelSigningFromConfig,
  parseKeyRing,
  signAnnouncement,
  signingFromKeys,
  verifyAnnouncement,
  type SigningSettings,
} from './signing.js';

const A: ModelAnnouncement = {
  name: 'lstm-attention',
  version: '20260101T000000Z',
  artifactUri: 'kafka://model-artifacts/lstm-attention/20260101T000000Z',
  featureSetVersion: 'fs-2',
  trainedFrom: 1704067200000,
  trainedTo: 1719792000000,
  metrics: { valPinball: 0.0123, dm: -2.5 },
  backend: 'cpu',
  codeVersion: '1.2.3',
  createdAt: 1767225600000,
  expiresAt: null,
};
const FACTS = { topic: 'models', keyId: 'k2026', signedAt: 1767225601000, artifactSha256: 'ab'.repeat(32) };
const SECRET = 'test-secret-0123456789abcdef0123456789';

describe('canonical encoding and HMAC', () => {
  it('encodes every deciding field in a fixed order, metrics sorted by name', () => {
    expect(canonicalAnnouncement(A, FACTS).toString('utf8')).toBe(
      '["bitpredict-model-announcement/v1","models","k2026",1767225601000,"champion","lstm-attention","20260101T000000Z",' +
        '"kafka://model-artifacts/lstm-attention/20260101T000000Z","abababababababababababababababababababababababababababababababab",' +
        '"fs-2",1704067200000,1719792000000,[["dm",-2.5],["valPinball",0.0123]],"cpu","1.2.3",1767225600000,null]',
    );
    // Key order of the metrics object does not matter; their values do.
    expect(canonicalAnnouncement({ ...A, metrics: { dm: -2.5, valPinball: 0.0123 } }, FACTS)).toEqual(canonicalAnnouncement(A, FACTS));
  });

  it('gives the HMAC-SHA256 openssl gives (openssl dgst -sha256 -hmac <secret> of the encoding)', () => {
    expect(hmacHex(Buffer.from(SECRET), canonicalAnnouncement(A, FACTS))).toBe('fac2cc850b29897bb51663d66723b9651c6ab0c14b49bf21fe3b6e25960bd56c');
    const h = signAnnouncement(
      A,
      { id: 'k2026', secret: Buffer.from(SECRET) },
      { topic: 'models', signedAt: FACTS.signedAt, artifactSha256: FACTS.artifactSha256 },
    );
    expect(h).toEqual({
      [SIGNATURE_HEADERS.keyId]: 'k2026',
      [SIGNATURE_HEADERS.signedAt]: '1767225601000',
      [SIGNATURE_HEADERS.artifactSha256]: FACTS.artifactSha256,
      [SIGNATURE_HEADERS.signature]: 'fac2cc850b29897bb51663d66723b9651c6ab0c14b49bf21fe3b6e25960bd56c',
    });
  });

  it('changes with every field', () => {
    const base = canonicalAnnouncement(A, FACTS).toString();
    const changed: [Partial<ModelAnnouncement>, Partial<typeof FACTS>][] = [
      [{ name: 'x' }, {}],
      [{ version: 'v2' }, {}],
      [{ artifactUri: 'file:///tmp/x' }, {}],
      [{ featureSetVersion: 'fs-1' }, {}],
      [{ trainedFrom: 1 }, {}],
      [{ trainedTo: 1 }, {}],
      [{ metrics: { valPinball: 0.0124, dm: -2.5 } }, {}],
      [{ backend: 'tensorflow' }, {}],
      [{ codeVersion: '1.2.4' }, {}],
      [{ createdAt: 1 }, {}],
      [{ expiresAt: 1 }, {}],
      [{}, { topic: 'staging.models' }],
      [{}, { keyId: 'k2025' }],
      [{}, { signedAt: 1 }],
      [{}, { artifactSha256: 'cd'.repeat(32) }],
    ];
    for (const [a, f] of changed) expect(canonicalAnnouncement({ ...A, ...a }, { ...FACTS, ...f }).toString()).not.toBe(base);
  });

  it('digests the artifact files as sha256sum does ("<file> <sha256>\\n" per file, in publish order)', () => {
    const files = new Map([
      ['weights.bin', Buffer.alloc(0)],
      ['meta.json', Buffer.from('{}')],
      ['model.json', Buffer.from('m')],
    ]);
    expect(artifactDigest(files)).toBe('2daa58b427270ea6eaba1ffc894107127cec5a8f8a877daab3e9380215496b6d');
    expect(() => artifactDigest(new Map([['meta.json', Buffer.from('{}')]]))).toThrow(/has no model\.json/);
  });
});

describe('verifyAnnouncement', () => {
  const k2025 = { id: 'k2025', secret: Buffer.from('old-secret-0123456789abcdef0123456789') };
  const k2026 = { id: 'k2026', secret: Buffer.from(SECRET) };
  const sign = (key: typeof k2025, a = A) => signAnnouncement(a, key, { topic: 'models', signedAt: 5, artifactSha256: 'ab'.repeat(32) });

  it('accepts every key of the ring (rotation) and refuses a key taken out of it', () => {
    const ring = signingFromKeys([k2026, k2025]);
    expect(verifyAnnouncement(A, sign(k2026), ring, 'models')).toEqual({
      ok: true,
      signed: true,
      keyId: 'k2026',
      signedAt: 5,
      artifactSha256: 'ab'.repeat(32),
    });
    expect(verifyAnnouncement(A, sign(k2025), ring, 'models')).toMatchObject({ ok: true, keyId: 'k2025' });
    expect(verifyAnnouncement(A, sign(k2025), signingFromKeys([k2026]), 'models')).toMatchObject({
      ok: false,
      message: expect.stringMatching(/key id "k2025" refused: not one of the accepted keys \[k2026\]/) as unknown,
    });
  });

  it('refuses unsigned, incomplete, malformed and tampered records, Buffers or strings alike', () => {
    const ring = signingFromKeys([k2026]);
    const h = sign(k2026);
    const buffers = Object.fromEntries(Object.entries(h).map(([k, v]) => [k, Buffer.from(v)]));
    expect(verifyAnnouncement(A, buffers, ring, 'models').ok).toBe(true);
    const refusal = (headers: Record<string, string | Buffer | undefined>, a = A, topic = 'models'): string => {
      const v = verifyAnnouncement(a, headers, ring, topic);
      return v.ok ? 'accepted' : v.message;
    };
    expect(refusal({})).toMatch(/^unsigned announcement refused/);
    expect(refusal({ ...h, [SIGNATURE_HEADERS.signedAt]: undefined })).toMatch(/incomplete signature/);
    expect(refusal({ ...h, [SIGNATURE_HEADERS.signedAt]: '-1' })).toMatch(/malformed signature/);
    expect(refusal({ ...h, [SIGNATURE_HEADERS.signature]: h[SIGNATURE_HEADERS.signature]!.toUpperCase() })).toMatch(/malformed signature/);
    expect(refusal({ ...h, [SIGNATURE_HEADERS.signedAt]: '6' })).toMatch(/does not match under key k2026/);
    expect(refusal(h, { ...A, version: 'v0' })).toMatch(/does not match/);
    expect(refusal(h, A, 'prod.models')).toMatch(/does not match/);
    // Another key under the same id (an attacker's guess of the id) does not pass.
    expect(refusal(sign({ id: 'k2026', secret: Buffer.from('x'.repeat(40)) }))).toMatch(/does not match under key k2026/);
  });

  it('accepts anything unchecked when signing is off', () => {
    const off = modelSigningFromConfig({ signing: 'off', signingKey: '', signingKeyFile: '', storeDir: '/nonexistent' });
    expect(verifyAnnouncement(A, {}, off, 'models')).toEqual({ ok: true, signed: false });
    expect(off.signer).toBeNull();
  });
});

describe('key settings', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bp-signing-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const cfg = (over: Partial<SigningSettings>): SigningSettings => ({
    signing: 'required',
    signingKey: '',
    signingKeyFile: '',
    storeDir: join(dir, 'store'),
    ...over,
  });

  it('parses [<id>:]<secret> entries; the id of a bare secret is its fingerprint', () => {
    const ring = parseKeyRing(`k2:${'b'.repeat(32)}\n# old key, drop after the next announce\n${'a'.repeat(32)}\n`, 'X');
    expect(ring.map((k) => k.id)).toEqual(['k2', '3ba3f5f43b92']);
    expect(ring[1]?.secret.toString()).toBe('a'.repeat(32));
    expect(parseKeyRing(`k1:${'c'.repeat(32)},k0:${'d'.repeat(32)}`, 'X').map((k) => k.id)).toEqual(['k1', 'k0']);
  });

  it('refuses short secrets, bad and duplicate ids, an empty ring, naming the setting and never the secret', () => {
    const bad = (text: string): string => {
      try {
        parseKeyRing(text, 'BITPREDICT_MODEL_SIGNING_KEY');
        return 'parsed';
      } catch (err) {
        return (err as Error).message;
      }
    };
    expect(bad('k1:short-secret')).toMatch(/^BITPREDICT_MODEL_SIGNING_KEY: key 1 \(id k1\): secret shorter than 32 bytes/);
    expect(bad('k1:short-secret')).not.toContain('short-secret');
    expect(bad(`k1:${'a'.repeat(32)}\nk1:${'b'.repeat(32)}`)).toMatch(/key 2: id k1 given twice/);
    expect(bad(`k/1:${'a'.repeat(32)}`)).toMatch(/id is not/);
    expect(bad('\n# nothing\n')).toMatch(/holds no key/);
  });

  it('reads the key file (a Secret), the value, and refuses both at once or a key with signing off', async () => {
    const file = join(dir, 'keys');
    await writeFile(file, `new:${'n'.repeat(40)}\nold:${'o'.repeat(40)}\n`);
    const s = modelSigningFromConfig(cfg({ signingKeyFile: file }));
    expect(s.signer?.id).toBe('new');
    expect([...s.keys.keys()]).toEqual(['new', 'old']);
    expect(s.origin).toBe(`BITPREDICT_MODEL_SIGNING_KEY_FILE=${file}`);
    expect(modelSigningFromConfig(cfg({ signingKey: `v:${'v'.repeat(40)}` })).signer?.id).toBe('v');
    expect(() => modelSigningFromConfig(cfg({ signingKey: `v:${'v'.repeat(40)}`, signingKeyFile: file }))).toThrow(/both set/);
    expect(() => modelSigningFromConfig(cfg({ signing: 'off', signingKeyFile: file }))).toThrow(/BITPREDICT_MODEL_SIGNING=off but a signing key is set/);
    expect(() => modelSigningFromConfig(cfg({ signingKeyFile: join(dir, 'missing') }))).toThrow(
      /BITPREDICT_MODEL_SIGNING_KEY_FILE=.*missing cannot be read \(ENOENT/,
    );
  });

  it('generates one local key in the model store (0600) and every process sharing the store uses it', async () => {
    const one = modelSigningFromConfig(cfg({}));
    const two = modelSigningFromConfig(cfg({}));
    expect(one.signer?.id).toBe('local');
    expect(two.signer?.secret.equals(one.signer!.secret)).toBe(true);
    const path = join(dir, 'store', GENERATED_KEY_FILE);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await readFile(path, 'utf8')).toMatch(/^local:[0-9a-f]{64}\n$/);
    expect(one.origin).toMatch(/generated in .*\.signing-key/);
    // Another store, another key: its announcements do not verify here.
    const other = modelSigningFromConfig(cfg({ storeDir: join(dir, 'other-store') }));
    const h = signAnnouncement(A, other.signer!, { topic: 'models', signedAt: 1, artifactSha256: 'ab'.repeat(32) });
    expect(verifyAnnouncement(A, h, one, 'models').ok).toBe(false);
  });
});
