import { invalid } from '../domain/errors.js';

/**
 * Checks every request's path parameters, query and body once, before any schema or service sees
 * them, for what neither database treats alike or what would exhaust the stack: NUL characters
 * (PostgreSQL refuses them, SQLite stores them), nesting deeper than any document needs, numbers
 * JSON can write but no column holds, and keys that would reach an object's prototype.
 */

/** Deeper than any body our schemas describe (context data included), far below a stack overflow. */
export const MAX_DEPTH = 32;

/**
 * Copying a body with `__proto__` into another object (Object.assign, a merge) changes that
 * object's prototype instead of its data; `constructor.prototype` reaches a class's.
 */
function prototypeKey(key: string, value: unknown): boolean {
  return key === '__proto__' || (key === 'constructor' && typeof value === 'object' && value !== null && 'prototype' in value);
}

type Part = 'params' | 'query' | 'body';

/** `a.b[0].c` from the path walked so far; the part's own name when at its top. */
function fieldName(part: Part, path: readonly (string | number)[]): string {
  if (path.length === 0) return part;
  const name = path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
  return typeof path[0] === 'number' ? `${part}${name}` : name;
}

/** Throws `invalid`, naming the field, at the first thing wrong in `value`. Iterative: no input can overflow the stack here. */
export function guardInput(part: Part, value: unknown): void {
  if (value === undefined || value === null) return;
  const stack: { value: unknown; path: (string | number)[] }[] = [{ value, path: [] }];
  while (stack.length > 0) {
    const { value: v, path } = stack.pop()!;
    const field = () => fieldName(part, path);
    if (typeof v === 'string') {
      if (v.includes('\u0000')) throw invalid(field(), `${field()} must not contain a NUL character`);
    } else if (typeof v === 'number') {
      if (!Number.isFinite(v)) throw invalid(field(), `${field()} is out of range`);
      if (Math.abs(v) > Number.MAX_SAFE_INTEGER) throw invalid(field(), `${field()} is out of range (beyond ±${Number.MAX_SAFE_INTEGER})`);
    } else if (typeof v === 'object' && v !== null) {
      if (path.length >= MAX_DEPTH) {
        // The top-level field: the full path to the limit would be a line of 32 names.
        const top = fieldName(part, path.slice(0, 1));
        throw invalid(top, `${top} is nested more than ${MAX_DEPTH} levels deep`);
      }
      if (Array.isArray(v)) {
        for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], path: [...path, i] });
        continue;
      }
      const keys = Object.keys(v);
      for (let i = keys.length - 1; i >= 0; i--) {
        const key = keys[i];
        const at = [...path, key];
        if (key.includes('\u0000')) throw invalid(fieldName(part, path), `${fieldName(part, path)} has a key with a NUL character`);
        const child = (v as Record<string, unknown>)[key];
        if (prototypeKey(key, child)) throw invalid(fieldName(part, at), `${fieldName(part, at)}: the key ${key} is not allowed`);
        stack.push({ value: child, path: at });
      }
    }
  }
}
