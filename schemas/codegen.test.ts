import { describe, expect, it } from 'vitest';
import { GENERATED_HEADER, generateTypes } from './codegen.js';

function body(out: string): string {
  expect(out.startsWith(`${GENERATED_HEADER}\n\n`)).toBe(true);
  return out.slice(GENERATED_HEADER.length + 2);
}

describe('generateTypes', () => {
  it('maps every Avro type to its TypeScript type', () => {
    const out = generateTypes([
      {
        type: 'record',
        name: 'Everything',
        namespace: 'io.test',
        doc: 'All the types. A */ in a doc must not end the comment.',
        fields: [
          { name: 'n', type: 'null' },
          { name: 'b', type: 'boolean', doc: 'flag' },
          { name: 'i', type: 'int' },
          { name: 'l', type: 'long' },
          { name: 'f', type: 'float' },
          { name: 'd', type: 'double' },
          { name: 'by', type: 'bytes' },
          { name: 's', type: 'string' },
          { name: 'ts', type: { type: 'long', logicalType: 'timestamp-millis' }, doc: 'when' },
          { name: 'opt', type: ['null', 'string'], default: null },
          { name: 'multi', type: ['string', 'null', 'long'] },
          { name: 'arr', type: { type: 'array', items: ['null', 'double'] } },
          { name: 'map', type: { type: 'map', values: { type: 'array', items: 'string' } } },
          { name: 'color', type: { type: 'enum', name: 'Color', symbols: ['RED', 'GREEN'], doc: 'a colour' } },
          { name: 'color2', type: 'Color' },
          { name: 'hash', type: { type: 'fixed', name: 'Md5', size: 16 } },
          { name: 'hash2', type: 'io.test.Md5' },
          { name: 'child', type: { type: 'record', name: 'Child', namespace: 'io.other', fields: [{ name: 'x', type: 'int' }] } },
          { name: 'child2', type: 'io.other.Child' },
        ],
      },
    ]);
    expect(body(out)).toBe(
      [
        '/** All the types. A *\\/ in a doc must not end the comment. */',
        'export interface Everything {',
        '  n: null;',
        '  /** flag */',
        '  b: boolean;',
        '  i: number;',
        '  l: number;',
        '  f: number;',
        '  d: number;',
        '  by: Buffer;',
        '  s: string;',
        '  /** when (Avro long timestamp-millis) */',
        '  ts: number;',
        '  opt: string | null;',
        '  multi: string | number | null;',
        '  arr: (number | null)[];',
        '  map: Record<string, string[]>;',
        '  color: Color;',
        '  color2: Color;',
        '  hash: Buffer;',
        '  hash2: Buffer;',
        '  child: Child;',
        '  child2: Child;',
        '}',
        '',
        "/** a colour */\nexport type Color = 'RED' | 'GREEN';",
        '',
        'export interface Child {',
        '  x: number;',
        '}',
        '',
      ].join('\n'),
    );
  });

  it('emits schemas in input order, each parent before its nested records, and supports recursion', () => {
    const node = { type: 'record', name: 'Node', namespace: 'a', fields: [{ name: 'next', type: ['null', 'Node'], default: null }] };
    const outer = { type: 'record', name: 'Outer', namespace: 'a', fields: [{ name: 'inner', type: { type: 'record', name: 'Inner', fields: [] } }] };
    const out = body(generateTypes([outer, node]));
    expect(out.indexOf('interface Outer')).toBeLessThan(out.indexOf('interface Inner'));
    expect(out.indexOf('interface Inner')).toBeLessThan(out.indexOf('interface Node'));
    expect(out).toContain('export interface Inner {}');
    expect(out).toContain('  next: Node | null;');
    expect(body(generateTypes([node, outer]))).not.toBe(out);
  });

  it.each([
    ['a non-record top level', ['string'], /top-level schema must be a record/],
    ['a record without fields', [{ type: 'record', name: 'R' }], /no fields array/],
    ['an unknown named type', [{ type: 'record', name: 'R', fields: [{ name: 'x', type: 'Missing' }] }], /unknown type "Missing"/],
    ['a field without a type', [{ type: 'record', name: 'R', fields: [{ name: 'x' }] }], /has no type/],
    [
      'a duplicate field',
      [
        {
          type: 'record',
          name: 'R',
          fields: [
            { name: 'x', type: 'int' },
            { name: 'x', type: 'int' },
          ],
        },
      ],
      /duplicate field/,
    ],
    ['an invalid field name', [{ type: 'record', name: 'R', fields: [{ name: 'a-b', type: 'int' }] }], /valid name/],
    ['an empty union', [{ type: 'record', name: 'R', fields: [{ name: 'x', type: [] }] }], /empty union/],
    ['an enum without symbols', [{ type: 'record', name: 'R', fields: [{ name: 'x', type: { type: 'enum', name: 'E', symbols: [] } }] }], /symbols/],
    ['a type that is a number', [{ type: 'record', name: 'R', fields: [{ name: 'x', type: 5 }] }], /must be a string, an array/],
    [
      'a record defined twice',
      [
        { type: 'record', name: 'R', fields: [] },
        { type: 'record', name: 'R', fields: [] },
      ],
      /defined twice/,
    ],
    [
      'two namespaces with the same short name',
      [
        { type: 'record', name: 'a.R', fields: [] },
        { type: 'record', name: 'b.R', fields: [] },
      ],
      /would both generate R/,
    ],
    ['null input', [null], /top-level schema must be a record/],
  ] as const)('refuses %s with a clear error', (_what, schemas, message) => {
    expect(() => generateTypes(schemas)).toThrow(message);
  });
});
