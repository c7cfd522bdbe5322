/** One engine per test file (vitest runs each file in its own process). */
import '../../node/register-dawn.ts';
import { beforeAll, afterAll } from 'vitest';
import { initEngine, shutdownEngine, type Engine } from '../../engine/index.ts';

export function useEngine(): { get: () => Engine } {
  let e: Engine | null = null;
  beforeAll(async () => {
    e = await initEngine();
  });
  afterAll(() => shutdownEngine());
  return {
    get: () => {
      if (!e) throw new Error('engine not started');
      return e;
    },
  };
}
