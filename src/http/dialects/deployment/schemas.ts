import { Type } from '@sinclair/typebox';

/** The deployment document's error envelope; the rate limiter's 429 has the same shape. */
export const ErrorReply = Type.Object({ error: Type.String(), message: Type.String() }, { description: 'error code and a message naming the field' });

/**
 * Every status a route of this dialect can fail with (the document's table: no 412 or 502, see
 * the overrides in index.ts), for each route's `response`.
 */
export const errors = Object.fromEntries([400, 401, 403, 404, 409, 413, 415, 429, 503].map((s) => [s, ErrorReply])) as
  Record<400 | 401 | 403 | 404 | 409 | 413 | 415 | 429 | 503, typeof ErrorReply>;
