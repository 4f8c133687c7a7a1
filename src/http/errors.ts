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

const TYPE_NAMES: Record<string, string> = {
  string: 'a string', integer: 'an integer', number: 'a number', boolean: 'true or false',
  object: 'an object', array: 'an array', null: 'null',
};

const FORMAT_NAMES: Record<string, string> = {
  email: 'an email address', 'date-time': 'an ISO 8601 date and time', date: 'a date (YYYY-MM-DD)', uri: 'a URI',
};

const plural = (n: unknown, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;

/** One sentence per schema keyword, in our words: the validator's own text ("must NOT have…") never reaches a client. */
function describe(item: ValidationItem, field: string): string {
  const p = item.params ?? {};
  switch (item.keyword) {
    case 'required': return `${field} is required`;
    case 'additionalProperties': return `${field} is not a known field`;
    case 'enum': return `${field} must be one of ${(p.allowedValues as unknown[] | undefined)?.join(', ')}`;
    case 'const': return `${field} must be ${JSON.stringify(p.allowedValue)}`;
    case 'maxLength': return `${field} must be at most ${plural(p.limit, 'character')}`;
    case 'minLength': return p.limit === 1 ? `${field} must not be empty` : `${field} must be at least ${plural(p.limit, 'character')}`;
    case 'maxItems': return `${field} must have at most ${plural(p.limit, 'item')}`;
    case 'minItems': return p.limit === 1 ? `${field} must not be empty` : `${field} must have at least ${plural(p.limit, 'item')}`;
    case 'maxProperties': return `${field} must have at most ${plural(p.limit, 'key')}`;
    case 'minProperties': return `${field} must have at least ${plural(p.limit, 'key')}`;
    case 'maximum': return `${field} must be at most ${p.limit}`;
    case 'minimum': return `${field} must be at least ${p.limit}`;
    case 'exclusiveMaximum': return `${field} must be less than ${p.limit}`;
    case 'exclusiveMinimum': return `${field} must be greater than ${p.limit}`;
    case 'type': {
      const types = String(p.type).split(',').map((t) => TYPE_NAMES[t] ?? t);
      return `${field} must be ${types.join(' or ')}`;
    }
    case 'format': return `${field} must be ${FORMAT_NAMES[p.format as string] ?? `a valid ${p.format}`}`;
    case 'pattern': return `${field} is not in the expected format`;
    case 'uniqueItems': return `${field} must not repeat an item`;
    default: return `${field} is invalid`;
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
  if (fe?.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return { status: 400, code: 'invalid', message: 'body is empty; send a JSON object', field: 'body' };
  if (fe?.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || fe instanceof SyntaxError) {
    return { status: 400, code: 'invalid', message: 'body is not valid JSON', field: 'body' };
  }
  if (fe?.code === 'FST_ERR_BAD_URL') return { status: 400, code: 'invalid', message: 'the path is not valid percent-encoding', field: 'path' };
  if (fe?.code === 'FST_ERR_MAX_PARAM_LENGTH') return { status: 414, code: 'invalid', message: 'a path segment is longer than the server accepts', field: 'path' };
  if (fe?.statusCode === 429) return { status: 429, code: 'rate_limited', message: fe.message };
  if (fe?.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
    return { status: fe.statusCode, code: 'invalid', message: fe.message };
  }
  return { status: 500, code: 'internal', message: 'internal server error' };
}

/** How a dialect words its errors: its body for a problem, and the statuses it gives some kinds. */
export interface Envelope {
  render: (p: Problem, req: FastifyRequest) => unknown;
  overrides?: Partial<Record<DomainErrorKind, number>>;
}

/** Answers `err` in `envelope`. Internal errors are logged with their detail but answered without it. */
export function sendError(envelope: Envelope, err: unknown, req: FastifyRequest, reply: FastifyReply): FastifyReply {
  const problem = toProblem(err, envelope.overrides);
  if (problem.status >= 500) req.log.error({ err }, 'request failed');
  return sendProblem(envelope, problem, req, reply);
}

export function sendProblem(envelope: Envelope, problem: Problem, req: FastifyRequest, reply: FastifyReply): FastifyReply {
  const body = envelope.render(problem, req);
  if (problem.status === 429 && reply.getHeader('retry-after') === undefined) reply.header('retry-after', '60');
  void reply.status(problem.status);
  return typeof body === 'string' ? reply.type('text/plain; charset=utf-8').send(body) : reply.send(body);
}

/** Installs a dialect's error envelope on its encapsulated Fastify context. */
export function useErrorEnvelope(app: FastifyInstance, envelope: Envelope): void {
  app.setErrorHandler((err, req, reply: FastifyReply) => sendError(envelope, err, req, reply));
}
