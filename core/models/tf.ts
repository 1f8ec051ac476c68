// Loads TensorFlow.js once per process and picks the fastest backend that works here:
// @tensorflow/tfjs-node (native, optional dependency) if it loads, else @tensorflow/tfjs with the
// wasm backend, else the pure-JS cpu backend. Logs nothing: the caller logs and records the choice.
import type * as Tfjs from '@tensorflow/tfjs';
import { createRequire } from 'node:module';
import { dirname, sep } from 'node:path';
import { BitPredictError } from '../errors.js';

export type TfModule = typeof Tfjs;
export type TfBackend = 'tensorflow' | 'wasm' | 'cpu';
export interface LoadedTf {
  tf: TfModule;
  backend: TfBackend;
}

const require = createRequire(import.meta.url);
let tfjsPromise: Promise<TfModule> | null = null;
let nodeTried: Promise<TfModule | null> | null = null;
let wasmRegistered: Promise<boolean> | null = null;
let current: LoadedTf | null = null;

async function importTfjs(): Promise<TfModule> {
  tfjsPromise ??= import('@tensorflow/tfjs');
  return tfjsPromise;
}

/** tfjs-node re-exports tfjs and registers the 'tensorflow' backend; absent or broken here -> null. */
async function tryTfjsNode(): Promise<TfModule | null> {
  nodeTried ??= (async () => {
    try {
      const name = '@tensorflow/tfjs-node';
      const mod = (await import(name)) as TfModule & { default?: TfModule };
      const tf = mod.default ?? mod;
      return (await tf.setBackend('tensorflow')) ? tf : null;
    } catch {
      return null;
    }
  })();
  return nodeTried;
}

/** Registers the wasm backend with the binaries of the installed package (found on disk, not a CDN). */
async function registerWasm(tf: TfModule): Promise<boolean> {
  wasmRegistered ??= (async () => {
    try {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      const distDir = dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
      // Emscripten reads this path with fs (no fetch: Node has no file:// fetch); trailing separator = prefix.
      wasm.setWasmPaths(`${distDir}${sep}`);
      return tf.findBackendFactory('wasm') !== null;
    } catch {
      return false;
    }
  })();
  return wasmRegistered;
}

async function use(tf: TfModule, backend: TfBackend): Promise<boolean> {
  try {
    if (!(await tf.setBackend(backend))) return false;
    await tf.ready();
    return tf.getBackend() === backend;
  } catch {
    return false;
  }
}

/**
 * Returns tfjs with an active backend. Without `prefer`: tensorflow > wasm > cpu, decided once and
 * cached. With `prefer`: switches to that backend (for benches) or throws if it cannot load.
 */
export async function loadTf(prefer?: TfBackend): Promise<LoadedTf> {
  if (!prefer && current) return current;
  if (prefer && current?.backend === prefer && current.tf.getBackend() === prefer) return current;
  const order: TfBackend[] = prefer ? [prefer] : ['tensorflow', 'wasm', 'cpu'];
  for (const backend of order) {
    if (backend === 'tensorflow') {
      const tf = await tryTfjsNode();
      if (tf && (await use(tf, 'tensorflow'))) return (current = { tf, backend });
      continue;
    }
    const tf = await importTfjs();
    if (backend === 'wasm' && !(await registerWasm(tf))) continue;
    if (await use(tf, backend)) return (current = { tf, backend });
  }
  // ERR_CONFIG_INVALID: a forced backend comes from configuration (or a bench flag) and cannot run here.
  throw new BitPredictError(
    'ERR_CONFIG_INVALID',
    `TensorFlow.js backend ${prefer ? `'${prefer}'` : '(any of tensorflow, wasm, cpu)'} could not be loaded in this process`,
  );
}

/** Backends that load in this process, in preference order (switches the active backend; benches only). */
export async function availableBackends(): Promise<TfBackend[]> {
  const out: TfBackend[] = [];
  for (const b of ['tensorflow', 'wasm', 'cpu'] as const) {
    try {
      await loadTf(b);
      out.push(b);
    } catch {
      // not available here
    }
  }
  return out;
}
