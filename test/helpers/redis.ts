/** Redis clean-up for tests that share the machine's Redis under a prefix of their own. */
import { Redis } from 'ioredis';

export const REDIS_URL = process.env.DIALTONE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Deletes every key under `prefix`. */
export async function dropRedisPrefix(prefix: string): Promise<void> {
  const r = new Redis(REDIS_URL);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      if (keys.length) await r.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally { r.disconnect(); }
}
