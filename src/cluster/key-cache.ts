import type { AuthCache, CacheDrop } from '../domain/keys.js';
import type { ClusterLink } from './link.js';

const TOPIC = 'auth-cache.drop';

function isDrop(p: unknown): p is CacheDrop {
  const d = p as Record<string, unknown> | null;
  return typeof d?.keyId === 'string' || typeof d?.tenantId === 'string';
}

/**
 * A key deleted (or a tenant removed) on one instance stops working on all of them at once: the
 * drop is announced over Redis instead of waiting out the others' cache window.
 */
export function shareKeyCacheDrops(link: ClusterLink, cache: AuthCache): void {
  cache.announce = (drop) => { void link.notify(TOPIC, drop).catch(() => undefined); };
  link.onNotice(TOPIC, (p) => {
    if (!isDrop(p)) return;
    cache.evict(typeof (p as { keyId?: unknown }).keyId === 'string' ? { keyId: (p as { keyId: string }).keyId } : { tenantId: (p as { tenantId: string }).tenantId });
  });
}
