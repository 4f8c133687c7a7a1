/**
 * The one place listings are paged. Two cursor shapes exist because the documents differ:
 * the registrations API hands out an opaque token over (created_at, id), oldest first; the
 * agents-v1 document's `page_token` is a creation time alone, newest first. Both end up as a
 * `Keyset` that repositories compare row-wise. The deployment document's call history pages
 * by `limit`/`offset` (with a total), checked here too.
 */
import { invalid } from './errors.js';

/** A position in a listing ordered by (created_at, id). */
export interface Keyset {
  createdAt: string;
  id: string;
}

export function keysetOf(row: { createdAt: string; id: string }): Keyset {
  return { createdAt: row.createdAt, id: row.id };
}

/** A keyset that sorts before every row created at `createdAt` (no id is less than ''). */
export function atCreation(createdAt: string): Keyset {
  return { createdAt, id: '' };
}

/** Orders rows by (created_at, id) ascending. */
export function compareKeysets(a: Keyset, b: Keyset): number {
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Tokens are opaque to clients: the keyset of the last item shown, as base64url JSON. */
export function encodePageToken(k: Keyset): string {
  return Buffer.from(JSON.stringify([k.createdAt, k.id])).toString('base64url');
}

export function decodePageToken(token: string, field = 'page_token'): Keyset {
  try {
    const v = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && typeof v[1] === 'string') return { createdAt: v[0], id: v[1] };
  } catch { /* falls through to the error below */ }
  throw invalid(field, `${field} is not a token this API returned`);
}

export function pageSizeOf(value: number | undefined, limits: { default: number; max: number }, field = 'page_size'): number {
  const size = value ?? limits.default;
  if (!Number.isInteger(size) || size < 1 || size > limits.max) {
    throw invalid(field, `${field} must be an integer from 1 to ${limits.max}`);
  }
  return size;
}

/** Where an offset-paged listing starts: a count of rows to skip. */
export function offsetOf(value: number, field = 'offset'): number {
  if (!Number.isInteger(value) || value < 0) throw invalid(field, `${field} must be a non-negative integer`);
  return value;
}

/** A page with an opaque continuation token, null at the end. */
export interface TokenPage<T> {
  items: T[];
  nextPageToken: string | null;
}

/**
 * Cuts a page from rows already in keyset order, fetched one past the page size: the extra
 * row says whether another page follows without a count query.
 */
export function keysetPage<T>(rows: T[], pageSize: number, keyOf: (row: T) => Keyset): TokenPage<T> {
  const items = rows.slice(0, pageSize);
  const last = items[items.length - 1];
  return { items, nextPageToken: rows.length > pageSize && last ? encodePageToken(keyOf(last)) : null };
}

/** One page of a newest-first listing; `next` is the creation time of its last item, null at the end. */
export interface Page<T> {
  items: T[];
  next: string | null;
}

/**
 * Pages a newest-first listing whose cursor is a creation time alone (callers continue with
 * `created_at < next`). Rows sharing the boundary's timestamp are kept on the same page, so a
 * page may exceed `pageSize` when several rows were created in one millisecond, but a row is
 * never skipped or repeated. `fetch(limit)` returns up to `limit` rows after the caller's cursor.
 */
export async function pageByCreation<T extends { createdAt: string }>(
  pageSize: number,
  fetch: (limit: number) => Promise<T[]>,
): Promise<Page<T>> {
  let limit = pageSize + 1;
  for (;;) {
    const rows = await fetch(limit);
    if (rows.length <= pageSize) return { items: rows, next: null };
    const boundary = rows[pageSize - 1].createdAt;
    let end = pageSize;
    while (end < rows.length && rows[end].createdAt === boundary) end++;
    if (end < rows.length) return { items: rows.slice(0, end), next: boundary };
    if (rows.length < limit) return { items: rows, next: null };
    limit *= 2;
  }
}

/** Which rows of an offset-paged listing to show: `limit` rows after skipping `offset`. */
export interface OffsetWindow {
  limit: number;
  offset: number;
}

/** A page of an offset-paged listing; `nextOffset` is null on the last page. */
export interface OffsetPage<T> {
  items: T[];
  nextOffset: number | null;
}

/** Cuts a page from rows fetched one past the limit: the extra row says another page follows. */
export function offsetPage<T>(rows: T[], w: OffsetWindow): OffsetPage<T> {
  return { items: rows.slice(0, w.limit), nextOffset: rows.length > w.limit ? w.offset + w.limit : null };
}
