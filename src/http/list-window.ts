/**
 * Query fields and the `Link` header of the lists that once answered every row at once
 * (deployment agents, telephony numbers, SIP trunks). Their documents define a bare array or an
 * envelope, so the next page is announced in an RFC 8288 `Link` header rather than in the body.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { OffsetWindow } from '../domain/paging.js';

export const LIST_DEFAULT_LIMIT = 100;
export const LIST_MAX_LIMIT = 1000;

/** Optional with defaults: the validator fills them in, and clients may leave them out. */
export const ListWindowQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: LIST_MAX_LIMIT, default: LIST_DEFAULT_LIMIT, description: `Rows per page (default ${LIST_DEFAULT_LIMIT}, at most ${LIST_MAX_LIMIT})` })),
  offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000_000, default: 0, description: 'Rows to skip; the `Link: rel="next"` header names the next page' })),
};

/** The window a validated query asks for. */
export function windowOf(q: { limit?: number; offset?: number }): OffsetWindow {
  return { limit: q.limit ?? LIST_DEFAULT_LIMIT, offset: q.offset ?? 0 };
}

/** Names the next page, when there is one, as this request's own path with a new offset. */
export function linkNextPage(req: FastifyRequest, reply: FastifyReply, nextOffset: number | null): void {
  if (nextOffset === null) return;
  const url = new URL(req.url, 'http://local');
  url.searchParams.set('offset', String(nextOffset));
  reply.header('link', `<${url.pathname}${url.search}>; rel="next"`);
}
