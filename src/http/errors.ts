import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DomainError, type DomainErrorKind } from '../domain/errors.js';

/** An error reduced to what every dialect needs to render it. */
export interface Problem {
  status: number;
  /** Short machine-readable reason, e.g. invalid, not_found. */
  code: string;
  message: string;
  field?: string;
}

const DEFAULT_STATUS: Record<DomainErrorKind, number> = {
  invalid: 400, unauthenticated: 401, forbidden: 403, not_found: 404, conflict: 409,
  precondition: 412, limit: 403, unavailable: 503, upstream: 502,
};

type ValidationItem = { instancePath?: string; keyword?: string; message?: string; params?: Record<string, unknown> };

/** Names the field a JSON-schema failure is about: `/trunk_numbers/0` → `trunk_numbers[0]`. */
function fieldOf(item: ValidationItem, context: string | undefined): string {
  const path = (item.instancePath ?? '').split('/').filter(Boolean)
    .map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
  const missing = item.params?.missingProperty as string | undefined;
  const extra = item.params?.additionalProperty as string | undefined;
  const leaf = missing ?? extra;
  const joined = leaf ? (path ? `${path}.${leaf}` : leaf) : path;
  return joined || context || 'body';
}

function describe(item: ValidationItem, field: string): string {
  switch (item.keyword) {
    case 'required': return `${field} is required`;
    case 'additionalProperties': return `${field} is not a known field`;
    case 'enum': return `${field} must be one of ${(item.params?.allowedValues as unknown[] | undefined)?.join(', ')}`;
    case 'maxLength': return `${field} must be at most ${item.params?.limit} characters`;
    case 'minLength': return item.params?.limit === 1 ? `${field} must not be empty` : `${field} must be at least ${item.params?.limit} characters`;
    case 'type': return `${field} must be of type ${item.params?.type}`;
    default: return `${field} ${item.message ?? 'is invalid'}`;
  }
}

export function toProblem(err: unknown, overrides: Partial<Record<DomainErrorKind, number>> = {}): Problem {
  if (err instanceof DomainError) {
    return { status: overrides[err.kind] ?? DEFAULT_STATUS[err.kind], code: err.kind, message: err.message, field: err.field };
  }
  const fe = err as FastifyError & { validation?: ValidationItem[]; validationContext?: string };
  if (fe?.validation?.length) {
    const item = fe.validation[0];
    const field = fieldOf(item, fe.validationContext);
    return { status: 400, code: 'invalid', message: describe(item, field), field };
  }
  if (fe?.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return { status: 413, code: 'too_large', message: 'request body is larger than 1 MiB' };
  if (fe?.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return { status: 415, code: 'unsupported_media_type', message: 'send the body as application/json' };
  if (fe?.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || fe?.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || fe instanceof SyntaxError) {
    return { status: 400, code: 'invalid', message: 'body is not valid JSON', field: 'body' };
  }
  if (fe?.statusCode === 429) return { status: 429, code: 'rate_limited', message: fe.message };
  if (fe?.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
    return { status: fe.statusCode, code: 'invalid', message: fe.message };
  }
  return { status: 500, code: 'internal', message: 'internal server error' };
}

/**
 * Installs a dialect's error envelope on its encapsulated Fastify context. Internal errors are
 * logged with their detail but answered without it.
 */
export function useErrorEnvelope(
  app: FastifyInstance,
  render: (p: Problem, req: FastifyRequest) => unknown,
  overrides: Partial<Record<DomainErrorKind, number>> = {},
): void {
  app.setErrorHandler((err, req, reply: FastifyReply) => {
    const problem = toProblem(err, overrides);
    if (problem.status >= 500) req.log.error({ err }, 'request failed');
    const body = render(problem, req);
    if (problem.status === 429 && reply.getHeader('retry-after') === undefined) reply.header('retry-after', '60');
    void reply.status(problem.status);
    return typeof body === 'string' ? reply.type('text/plain; charset=utf-8').send(body) : reply.send(body);
  });
}
