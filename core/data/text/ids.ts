// Identity of a text item: the same item at the same source always hashes to the same id, so a
// re-poll, a restart or a replay run twice can drop what is already published.
import { createHash } from 'node:crypto';

/** Longest body text kept (characters); longer bodies are cut there and marked with an ellipsis. */
export const MAX_TEXT_CHARS = 10_000;
/** Longest title, author or url kept (characters). */
export const MAX_FIELD_CHARS = 1_000;

export function textId(source: string, sourceId: string): string {
  // The NUL separator keeps ("ab","c") and ("a","bc") apart.
  return createHash('sha256').update(`${source}\u0000${sourceId}`).digest('hex').slice(0, 32);
}

export function capText(text: string, max = MAX_TEXT_CHARS): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max - 1)}\u2026`;
}

/**
 * Canonical form of an article link, for dedupe: lower-case scheme and host, no default port, no
 * fragment, no utm_* tracking parameters, remaining parameters kept in their order. Returns null
 * for anything that is not an absolute http(s) URL.
 */
export function canonicalUrl(raw: string): string | null {
  let u: URL;
  try {
    u = new URL(raw.trim());
  } catch {
    return null;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return null;
  u.hash = '';
  for (const key of [...u.searchParams.keys()]) if (key.toLowerCase().startsWith('utm_')) u.searchParams.delete(key);
  let out = u.toString();
  if (u.search === '' && out.endsWith('?')) out = out.slice(0, -1);
  return out;
}
