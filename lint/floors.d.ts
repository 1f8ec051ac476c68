// Types of lint/floors.js (plain JavaScript, so that eslint.config.js can load it without a build).
import type { ESLint } from 'eslint';

export const SERVICES: readonly string[];
export const OWNED_PACKAGES: Record<string, { owners: string[]; tests: boolean; use: string }>;
export function unitOf(rel: string): string;
export function floorViolation(fromRel: string, toRel: string): string | null;
export function importTargets(file: string, text: string): string[];
export function findCycles(graph: Map<string, string[]>): string[][];
export function projectCycles(root: string): string[][];
declare const plugin: ESLint.Plugin;
export default plugin;
