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

export function schema<T extends Record<string, TSchema | string[] | string>>(s: T) {
  return { tags: OPENAPI_TAG, ...s };
}

/** The auth hook has run on every route that calls this. */
export function actor(req: FastifyRequest): Principal {
  if (!req.principal) throw new DomainError('unauthenticated', 'missing API key');
  return req.principal;
}
