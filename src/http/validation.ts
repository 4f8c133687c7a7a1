import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';
import { DomainError } from '../domain/errors.js';
import { guardInput } from './input-guard.js';

/**
 * Two validators. Bodies are JSON and must arrive in the types the schema names: no coercion, so
 * `"name": true` or `"expire": null` is refused rather than stored as "true" or 0. Path
 * parameters and query strings are text by nature, so their numbers and booleans are read from
 * strings (and a repeated key may fill an array), as Fastify does by default.
 */
const shared = { useDefaults: true, removeAdditional: false, allErrors: false, addUsedSchema: false } as const;
const bodies = addFormats.default(new Ajv({ ...shared, coerceTypes: false }));
const text = addFormats.default(new Ajv({ ...shared, coerceTypes: 'array' }));

type Part = 'body' | 'params' | 'query';

function partOf(httpPart: string | undefined): Part | null {
  if (httpPart === 'body') return 'body';
  if (httpPart === 'params') return 'params';
  if (httpPart === 'querystring') return 'query';
  return null;
}

/**
 * Fastify's validator compiler for every route. The input guard runs on a body before its schema
 * (a NUL or a 20,000-deep object is named as such, whatever its type), and on path and query
 * values after coercion, when `page_size=1e309` has become the number it is refused as.
 */
export const validatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) => {
  const part = partOf(httpPart);
  const validate: ValidateFunction = (part === 'body' ? bodies : text).compile(schema as object);
  const wrapped = ((data: unknown, ctx?: unknown) => {
    try {
      if (part === 'body') guardInput(part, data);
      const ok = validate(data, ctx as never);
      wrapped.errors = validate.errors;
      if (!ok) return false;
      if (part && part !== 'body') guardInput(part, data);
      return true;
    } catch (error) {
      if (error instanceof DomainError) return { error };
      throw error;
    }
  }) as ((data: unknown, ctx?: unknown) => boolean | { error: Error }) & Pick<ValidateFunction, 'errors' | 'schemaEnv'>;
  // Fastify passes the parent object only to validators that look like Ajv's, and Ajv needs it to coerce a root value.
  wrapped.schemaEnv = validate.schemaEnv;
  return wrapped;
};
