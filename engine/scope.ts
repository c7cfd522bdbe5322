/**
 * Scope-based release, like tfjs's `tidy`: every tensor created while a scope is open is disposed
 * when the scope closes, except the ones the scope returns and the ones marked with `keep`.
 * A training loop that wraps each step in `tidy` runs forever at flat memory.
 */
export interface Disposable {
  dispose(): void;
  readonly disposed: boolean;
}

const stack: Set<Disposable>[] = [];

export function track<T extends Disposable>(t: T): T {
  stack[stack.length - 1]?.add(t);
  return t;
}

/** Removes a tensor from every open scope: it lives until disposed explicitly. */
export function keep<T extends Disposable>(t: T): T {
  for (const s of stack) s.delete(t);
  return t;
}

function collectReturned(value: unknown, into: Set<unknown>, depth = 0): void {
  if (value === null || typeof value !== 'object' || depth > 4) return;
  if ('dispose' in value && 'disposed' in value) {
    into.add(value);
    return;
  }
  const items = Array.isArray(value) ? value : value instanceof Map ? [...value.values()] : Object.values(value);
  for (const v of items) collectReturned(v, into, depth + 1);
}

function closeScope(scope: Set<Disposable>, result: unknown): void {
  const returned = new Set<unknown>();
  collectReturned(result, returned);
  for (const t of scope) {
    if (returned.has(t)) {
      stack[stack.length - 1]?.add(t); // hand it to the enclosing scope
    } else if (!t.disposed) t.dispose();
  }
}

export function tidy<T>(fn: () => T): T {
  const scope = new Set<Disposable>();
  stack.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    stack.pop();
    closeScope(scope, undefined);
    throw e;
  }
  if (result instanceof Promise) {
    stack.pop();
    closeScope(scope, undefined);
    throw new Error('tidy() takes a synchronous function; use tidyAsync() for async work');
  }
  stack.pop();
  closeScope(scope, result);
  return result;
}

/** Like `tidy` for an async function. Scopes must not interleave: await it before opening another. */
export async function tidyAsync<T>(fn: () => Promise<T>): Promise<T> {
  const scope = new Set<Disposable>();
  stack.push(scope);
  const depth = stack.length;
  let result: T | undefined;
  try {
    result = await fn();
    return result;
  } finally {
    if (stack.length !== depth) throw new Error('tidyAsync scopes were interleaved');
    stack.pop();
    closeScope(scope, result);
  }
}
