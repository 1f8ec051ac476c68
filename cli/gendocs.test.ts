import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DOCS } from './gendocs.js';
import { CONFIG_KEYS } from '../core/config.js';
import { STACK_CONFIG_KEYS } from './stack/config.js';

const root = fileURLToPath(new URL('../', import.meta.url));

describe('generated docs match the code', () => {
  for (const [file, make] of Object.entries(DOCS)) {
    it(`${file} is up to date (run npm run docs:gen if this fails)`, () => {
      expect(readFileSync(root + file, 'utf8')).toBe(make());
    });
  }

  it('every configuration key in the README exists', () => {
    const readme = readFileSync(root + 'README.md', 'utf8');
    const mentioned = new Set(readme.match(/BITPREDICT_[A-Z_]+/g) ?? []);
    expect(mentioned.size).toBeGreaterThan(3);
    for (const key of mentioned) expect([...Object.keys(CONFIG_KEYS), ...Object.keys(STACK_CONFIG_KEYS)]).toContain(key);
  });
});
