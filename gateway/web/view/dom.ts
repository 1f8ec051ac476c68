// Small DOM helpers. Text from the server goes in with textContent only, never as HTML.

/** The element with `id`; the page's HTML is part of the build, so a missing one is a bug. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`the page has no #${id}`);
  return el as T;
}

export interface ElOptions {
  className?: string;
  text?: string;
  data?: Record<string, string>;
  title?: string;
}

/** A new element with text, class and data attributes. */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, opts: ElOptions = {}, children: Node[] = []): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (opts.className !== undefined) e.className = opts.className;
  if (opts.text !== undefined) e.textContent = opts.text;
  if (opts.title !== undefined) e.title = opts.title;
  for (const [k, v] of Object.entries(opts.data ?? {})) e.dataset[k] = v;
  e.append(...children);
  return e;
}

/** A table cell with text (and a class). */
export function cell(text: string, className?: string): HTMLTableCellElement {
  return el('td', className === undefined ? { text } : { text, className });
}

/** Sets text only when it changed, so screen readers and layout are not disturbed for nothing. */
export function setText(e: HTMLElement, text: string): void {
  if (e.textContent !== text) e.textContent = text;
}
