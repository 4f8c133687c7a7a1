import type { AccessKey } from '../../../domain/keys.js';
import type { DirectoryAgent } from '../../../domain/agent-directory.js';
import { invalid } from '../../../domain/errors.js';
import type { Page } from '../../../domain/paging.js';
import type { Tag } from '../../../domain/tags.js';

/** VoIPBIN's "not yet / never" timestamp. */
export const NEVER = '9999-01-01 00:00:00.000000';

/** ISO-8601 → `YYYY-MM-DD HH:MM:SS.ffffff` (UTC; we keep milliseconds, so the last 3 digits are 0). */
export function timestamp(iso: string | null | undefined): string {
  if (!iso) return NEVER;
  const s = new Date(iso).toISOString();
  return `${s.slice(0, 10)} ${s.slice(11, 19)}.${s.slice(20, 23)}000`;
}

/** The update stamp stays "never" until something changed after creation. */
function updated(r: { createdAt: string; updatedAt: string }): string {
  return r.updatedAt === r.createdAt ? NEVER : timestamp(r.updatedAt);
}

const TOKEN = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?Z?$/;

/**
 * A `page_token` (a `tm_create` as rendered above, or ISO-8601) → the ISO instant to continue
 * before. Sub-millisecond digits round up, so "before 12.874761" still includes 12.874.
 */
export function pageTokenToIso(token: string | undefined): string | undefined {
  if (!token) return undefined;
  const m = TOKEN.exec(token);
  const base = m ? Date.parse(`${m[1]}T${m[2]}Z`) : NaN;
  if (!m || Number.isNaN(base)) throw invalid('page_token', 'page_token must be a tm_create value like 2024-01-31 12:00:00.000000');
  const micros = Number((m[3] ?? '').padEnd(6, '0'));
  return new Date(base + Math.ceil(micros / 1000)).toISOString();
}

export function renderPage<T, R>(page: Page<T>, render: (item: T) => R): { result: R[]; next_page_token: string } {
  return { result: page.items.map(render), next_page_token: page.next ? timestamp(page.next) : '' };
}

export function renderAgent(a: DirectoryAgent) {
  return {
    id: a.id,
    username: a.username ?? '',
    name: a.name,
    detail: a.detail,
    ring_method: a.ringMethod,
    status: a.presence,
    permission: a.permission,
    tag_ids: a.tagIds,
    addresses: a.addresses.map((x) => ({ type: x.type, target: x.target })),
    direct_hash: a.directHash ?? '',
    direct_uri: a.directUri ?? '',
    tm_create: timestamp(a.createdAt),
    tm_update: updated(a),
    tm_delete: a.deletedAt ? timestamp(a.deletedAt) : NEVER,
  };
}

export function renderTag(t: Tag & { deletedAt?: string }) {
  return {
    id: t.id,
    name: t.name,
    detail: t.detail,
    tm_create: timestamp(t.createdAt),
    tm_update: updated(t),
    tm_delete: t.deletedAt ? timestamp(t.deletedAt) : NEVER,
  };
}

/** `token` is given only right after creation; later reads never show it. */
export function renderAccessKey(k: AccessKey & { deletedAt?: string }, token?: string) {
  return {
    id: k.id,
    name: k.name,
    detail: k.detail,
    ...(token !== undefined && { token }),
    tm_expire: timestamp(k.expiresAt),
    tm_create: timestamp(k.createdAt),
    tm_update: updated(k),
    tm_delete: k.deletedAt ? timestamp(k.deletedAt) : NEVER,
  };
}
