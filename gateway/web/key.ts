// Where the API key lives: the tab's sessionStorage (gone when the tab closes, never sent to
// another site). A key in the page's fragment (#key=bpk_..., which the browser never sends to a
// server) is moved there once and removed from the address bar.

export const KEY_ITEM = 'bitpredict.apiKey';

/**
 * Roughly the shape of a key (bpk_<id>_<secret>, gateway/auth/keys.ts): enough to catch a paste of
 * something else at once; the gateway decides whether the key is valid.
 */
const KEY_RE = /^bpk_[0-9A-Za-z]+_[A-Za-z0-9_-]+$/;

export function looksLikeKey(text: string): boolean {
  return KEY_RE.test(text) && text.length <= 200;
}

/** The key in a location fragment such as "#key=bpk_..." (URL-encoded or not), or null. */
export function keyFromFragment(hash: string): string | null {
  const m = /(?:^#|&)key=([^&]+)/.exec(hash);
  if (!m) return null;
  try {
    return decodeURIComponent(m[1]!);
  } catch {
    return null;
  }
}

export interface KeyStore {
  get(): string | null;
  set(key: string): void;
  clear(): void;
}

/** sessionStorage, or memory when storage is refused (private modes, sandboxed frames). */
export function createKeyStore(storage: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'> | null): KeyStore {
  let memory: string | null = null;
  return {
    get() {
      try {
        return storage?.getItem(KEY_ITEM) ?? memory;
      } catch {
        return memory;
      }
    },
    set(key) {
      memory = key;
      try {
        storage?.setItem(KEY_ITEM, key);
      } catch {
        // memory only
      }
    },
    clear() {
      memory = null;
      try {
        storage?.removeItem(KEY_ITEM);
      } catch {
        // nothing stored
      }
    },
  };
}
