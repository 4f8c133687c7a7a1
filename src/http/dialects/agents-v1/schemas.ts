import { Type, type TSchema } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { DomainError } from '../../../domain/errors.js';
import type { Principal } from '../../../domain/principal.js';

/** A string enum as plain JSON-schema `enum`, so a bad value is reported as "must be one of …". */
export function stringEnum<T extends string>(values: readonly T[]) {
  return Type.Unsafe<T>({ type: 'string', enum: [...values] });
}

export const IdParams = Type.Object({ id: Type.String({ maxLength: 64 }) });

/** Listing query; other query keys (`token`, `accesskey`) are credentials and pass through. */
export const PageQuery = Type.Object({
  page_size: Type.Integer({ minimum: 1, maximum: 100, default: 10 }),
  page_token: Type.Optional(Type.String({ maxLength: 64 })),
});

export const OPENAPI_TAG = ['agents v1.0'];

export function schema<T extends Record<string, TSchema | string[] | string | Record<number, TSchema>>>(s: T) {
  return { tags: OPENAPI_TAG, ...s };
}

/** The auth hook has run on every route that calls this. */
export function actor(req: FastifyRequest): Principal {
  if (!req.principal) throw new DomainError('unauthenticated', 'missing API key');
  return req.principal;
}

// Responses. The serializer writes only the fields listed, so nothing outside these (a password
// hash, a token after its creation) can reach a client.

const Stamp = Type.String({ description: 'YYYY-MM-DD HH:MM:SS.ffffff (UTC); 9999-01-01 00:00:00.000000 for never' });

export const AgentView = Type.Object({
  id: Type.String(),
  username: Type.String(),
  name: Type.String(),
  detail: Type.String(),
  ring_method: Type.String(),
  status: Type.String(),
  permission: Type.Integer(),
  tag_ids: Type.Array(Type.String()),
  addresses: Type.Array(Type.Object({ type: Type.String(), target: Type.String() })),
  direct_hash: Type.String(),
  direct_uri: Type.String(),
  tm_create: Stamp,
  tm_update: Stamp,
  tm_delete: Stamp,
});

export const TagView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  detail: Type.String(),
  tm_create: Stamp,
  tm_update: Stamp,
  tm_delete: Stamp,
});

export const AccessKeyView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  detail: Type.String(),
  token: Type.Optional(Type.String({ description: 'in the create response only' })),
  tm_expire: Stamp,
  tm_create: Stamp,
  tm_update: Stamp,
  tm_delete: Stamp,
});

export const LoginReply = Type.Object({ username: Type.String(), token: Type.String() });

export function pageOf<T extends TSchema>(item: T) {
  return Type.Object({ result: Type.Array(item), next_page_token: Type.String({ description: 'tm_create to continue before; empty at the end' }) });
}

/** This dialect's error envelope. */
export const ErrorReply = Type.Object({ message: Type.String() });
/** The statuses a domain error can take here (429 is the rate limiter's own body, shared by all dialects). */
export const errors = Object.fromEntries([400, 401, 403, 404, 409, 412, 413, 415, 502, 503].map((s) => [s, ErrorReply])) as Record<400 | 401 | 403 | 404 | 409 | 412 | 413 | 415 | 502 | 503, typeof ErrorReply>;

/** `response` for a route answering `ok` with 200. */
export function replies<T extends TSchema>(ok: T) {
  return { 200: ok, ...errors };
}
