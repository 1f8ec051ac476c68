// Configuration from environment variables, declared once as a TypeBox schema. Each leaf of the
// schema names its variable, its default (as the variable's text) and its meaning; from that one
// declaration come the TypeScript type (Static), the defaults, the validation (TypeBox checks
// ranges, patterns and enums; every bad variable is listed, unknown BITPREDICT_* variables are
// refused), and the documentation table (envKeyTable). core/config.ts declares the services'
// schema with it; the CLI's stack command declares its own.
import {
  Type,
  type Static,
  type TArray,
  type TBoolean,
  type TInteger,
  type TLiteral,
  type TNull,
  type TNumber,
  type TObject,
  type TSchema,
  type TString,
  type TUnion,
} from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { BitPredictError } from './errors.js';
import { redactUrl } from './redact.js';

/** How a variable's text becomes a value. */
export type EnvKind = 'string' | 'url' | 'int' | 'number' | 'boolean' | 'enum' | 'list' | 'time';

interface EnvMeta<K extends string> {
  readonly env: K;
  readonly envKind: EnvKind;
  /** The default as the variable's text (what docs show and what an unset variable reads as). */
  readonly envDefault: string;
  readonly description: string;
}

/** A schema leaf bound to one environment variable. */
export type EnvLeaf<K extends string, S extends TSchema> = S & EnvMeta<K>;

const meta = <K extends string>(env: K, envKind: EnvKind, envDefault: string, description: string): EnvMeta<K> => ({ env, envKind, envDefault, description });

interface Range {
  min?: number;
  max?: number;
}

/** Leaf constructors, one per kind of variable. */
export const env = {
  /** Free text; `check` may return why a value is not valid (listed with every other bad key). */
  string: <K extends string>(key: K, def: string, doc: string, opts: { check?: (text: string) => string | null } = {}): EnvLeaf<K, TString> =>
    Type.String({ ...meta(key, 'string', def, doc), ...(opts.check === undefined ? {} : { envCheck: opts.check }) }) as EnvLeaf<K, TString>,
  /** A URL (checked with the WHATWG URL parser). */
  url: <K extends string>(key: K, def: string, doc: string): EnvLeaf<K, TString> => Type.String(meta(key, 'url', def, doc)) as EnvLeaf<K, TString>,
  int: <K extends string>(key: K, def: number, doc: string, r: Range = {}): EnvLeaf<K, TInteger> =>
    Type.Integer({
      ...meta(key, 'int', String(def), doc),
      ...(r.min === undefined ? {} : { minimum: r.min }),
      ...(r.max === undefined ? {} : { maximum: r.max }),
    }) as EnvLeaf<K, TInteger>,
  number: <K extends string>(key: K, def: number, doc: string, r: Range = {}): EnvLeaf<K, TNumber> =>
    Type.Number({
      ...meta(key, 'number', String(def), doc),
      ...(r.min === undefined ? {} : { minimum: r.min }),
      ...(r.max === undefined ? {} : { maximum: r.max }),
    }) as EnvLeaf<K, TNumber>,
  boolean: <K extends string>(key: K, def: boolean, doc: string): EnvLeaf<K, TBoolean> =>
    Type.Boolean(meta(key, 'boolean', String(def), doc)) as EnvLeaf<K, TBoolean>,
  oneOf: <K extends string, const V extends readonly string[]>(key: K, values: V, def: V[number], doc: string): EnvLeaf<K, TUnion<TLiteral<V[number]>[]>> =>
    Type.Union(
      values.map((v) => Type.Literal(v)),
      meta(key, 'enum', def, doc),
    ) as EnvLeaf<K, TUnion<TLiteral<V[number]>[]>>,
  /** Comma-separated values, trimmed, empty items dropped; `minItems` 1 unless said otherwise. */
  list: <K extends string>(
    key: K,
    def: readonly string[],
    doc: string,
    o: { minItems?: number; pattern?: string; patternDoc?: string } = {},
  ): EnvLeaf<K, TArray<TString>> =>
    Type.Array(Type.String({ minLength: 1, ...(o.pattern === undefined ? {} : { pattern: o.pattern, patternDoc: o.patternDoc }) }), {
      minItems: o.minItems ?? 1,
      ...meta(key, 'list', def.join(','), doc),
    }) as EnvLeaf<K, TArray<TString>>,
  /** An ISO 8601 time, read as ms since the epoch; empty reads as null. */
  time: <K extends string>(key: K, doc: string): EnvLeaf<K, TUnion<[TInteger, TNull]>> =>
    Type.Union([Type.Integer(), Type.Null()], meta(key, 'time', '', doc)) as EnvLeaf<K, TUnion<[TInteger, TNull]>>,
};

/** The variable names declared in a schema, as a union of string literals. */
export type EnvKeysOf<T> = T extends EnvMeta<infer K> ? K : T extends TObject<infer P> ? { [N in keyof P]: EnvKeysOf<P[N]> }[keyof P] : never;

export type EnvOverrides<K extends string> = Partial<Record<K, string>>;

interface LeafEntry {
  path: string[];
  schema: TSchema & EnvMeta<string>;
}

function isLeaf(s: TSchema): s is TSchema & EnvMeta<string> {
  return typeof (s as Partial<EnvMeta<string>>).env === 'string';
}

/** Every leaf of a schema, in declaration order, with its path in the config object. */
export function envLeaves(schema: TObject): LeafEntry[] {
  const out: LeafEntry[] = [];
  const walk = (s: TObject, path: string[]): void => {
    for (const [name, child] of Object.entries(s.properties)) {
      if (isLeaf(child)) out.push({ path: [...path, name], schema: child });
      else if (child.type === 'object') walk(child as TObject, [...path, name]);
      else throw new Error(`config schema: ${[...path, name].join('.')} is neither a variable nor a section`);
    }
  };
  walk(schema, []);
  return out;
}

function convert(kind: EnvKind, text: string): unknown {
  switch (kind) {
    case 'string':
    case 'url':
    case 'enum':
      return text;
    case 'boolean':
      return text === 'true' || text === '1' ? true : text === 'false' || text === '0' ? false : text;
    case 'int':
    case 'number':
      return text.trim() === '' ? text : Number(text);
    case 'list':
      return text
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0);
    case 'time': {
      if (text === '') return null;
      const t = Date.parse(text);
      return Number.isNaN(t) ? text : t;
    }
  }
}

/** The one problem to report for a variable, or null when its value is valid. */
function problemOf(leaf: TSchema & EnvMeta<string>, text: string, value: unknown): string | null {
  const key = leaf.env;
  switch (leaf.envKind) {
    case 'boolean':
      if (typeof value !== 'boolean') return `${key}: "${text}" is not a boolean`;
      break;
    case 'int':
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value) || (leaf.envKind === 'int' && !Number.isInteger(value))) {
        return `${key}: "${text}" is not ${leaf.envKind === 'int' ? 'an integer' : 'a number'}`;
      }
      if (typeof leaf.minimum === 'number' && value < leaf.minimum) return `${key}: ${value} is below the minimum ${leaf.minimum}`;
      if (typeof leaf.maximum === 'number' && value > leaf.maximum) return `${key}: ${value} is above the maximum ${leaf.maximum}`;
      break;
    case 'enum':
      if (!Value.Check(leaf, value))
        return `${key}: "${text}" is not one of ${(leaf as unknown as TUnion<TLiteral<string>[]>).anyOf.map((l) => l.const).join(', ')}`;
      break;
    case 'url':
      try {
        new URL(text);
      } catch {
        return `${key}: "${redactUrl(text)}" is not a URL`; // a password in it stays out of the message
      }
      break;
    case 'time':
      if (value !== null && typeof value !== 'number') return `${key}: "${text}" is not an ISO 8601 time`;
      break;
    case 'list': {
      const items = value as string[];
      const min = (leaf as unknown as TArray).minItems ?? 0;
      if (items.length < min) return `${key}: must list at least ${min === 1 ? 'one value' : `${min} values`}`;
      const item = (leaf as unknown as TArray<TString>).items;
      for (const v of items) {
        if (!Value.Check(item, v)) return `${key}: "${String(v)}" is not ${(item as { patternDoc?: string }).patternDoc ?? `a valid value`}`;
      }
      break;
    }
    case 'string': {
      const check = (leaf as { envCheck?: (text: string) => string | null }).envCheck;
      const why = check === undefined ? null : check(text);
      if (why !== null) return `${key}: "${text}" ${why}`;
      break;
    }
  }
  // Whatever the kind-specific checks above do not phrase, TypeBox still has the last word.
  if (!Value.Check(leaf, value)) return `${key}: "${text}" is not valid (${[...Value.Errors(leaf, value)].map((e) => e.message).join('; ')})`;
  return null;
}

export interface LoadEnvOptions {
  /** BITPREDICT_* variables that belong to another schema (not refused as unknown). */
  alsoKnown?: Iterable<string>;
  /** Prefixes of BITPREDICT_* variables that another schema owns and validates (not refused here). */
  alsoKnownPrefixes?: readonly string[];
  /** Prefix of the variables this project owns; unknown ones with it are refused (default BITPREDICT_). */
  prefix?: string;
}

/**
 * Reads `schema` from `env` (overrides win over env, env over the defaults) and validates it as a
 * whole: one ERR_CONFIG_INVALID error lists every bad and every unknown variable.
 */
export function loadEnv<T extends TObject>(
  schema: T,
  envVars: Record<string, string | undefined>,
  overrides: Record<string, string | undefined> = {},
  opts: LoadEnvOptions = {},
): Static<T> {
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  const leaves = envLeaves(schema);
  for (const { path, schema: leaf } of leaves) {
    const text = overrides[leaf.env] ?? envVars[leaf.env] ?? leaf.envDefault;
    const value = convert(leaf.envKind, text);
    const problem = problemOf(leaf, text, value);
    if (problem) problems.push(problem);
    let node = out;
    for (const part of path.slice(0, -1)) node = (node[part] ??= {}) as Record<string, unknown>;
    node[path[path.length - 1] as string] = value;
  }
  const prefix = opts.prefix ?? 'BITPREDICT_';
  const known = new Set([...leaves.map((l) => l.schema.env), ...(opts.alsoKnown ?? [])]);
  for (const key of Object.keys(envVars)) {
    if (key.startsWith(prefix) && !known.has(key) && !(opts.alsoKnownPrefixes ?? []).some((p) => key.startsWith(p)))
      problems.push(`${key}: unknown configuration key`);
  }
  if (problems.length > 0) {
    throw new BitPredictError('ERR_CONFIG_INVALID', `invalid configuration:\n  ${problems.join('\n  ')}`, { details: { problems } });
  }
  return out;
}

/** One row per variable, in declaration order: what docs and tests read. */
export interface EnvKeySpec {
  readonly kind: EnvKind;
  readonly default: string;
  readonly doc: string;
  readonly values?: readonly string[];
  readonly min?: number;
  readonly max?: number;
}

export function envKeyTable<T extends TObject>(schema: T): Record<EnvKeysOf<T>, EnvKeySpec> {
  const table: Record<string, EnvKeySpec> = {};
  for (const { schema: leaf } of envLeaves(schema)) {
    const values = leaf.envKind === 'enum' ? (leaf as unknown as TUnion<TLiteral<string>[]>).anyOf.map((l) => l.const) : undefined;
    table[leaf.env] = {
      kind: leaf.envKind,
      default: leaf.envDefault,
      doc: leaf.description,
      ...(values ? { values } : {}),
      ...(typeof leaf.minimum === 'number' ? { min: leaf.minimum } : {}),
      ...(typeof leaf.maximum === 'number' ? { max: leaf.maximum } : {}),
    };
  }
  return table;
}
