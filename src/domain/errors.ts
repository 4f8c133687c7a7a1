/**
 * What a service can refuse, independent of HTTP. Each dialect maps `kind` onto its own status
 * code and envelope. `field` names the offending input so messages can point at it.
 */
export type DomainErrorKind =
  | 'invalid' // 400: the input breaks a rule
  | 'unauthenticated' // 401
  | 'forbidden' // 403: the caller may not do this
  | 'not_found' // 404: missing, or another tenant's
  | 'conflict' // 409: duplicates, in use, already bound
  | 'precondition' // 412: a state the request presumes does not hold
  | 'limit' // 403/429 per dialect: a tenant limit is reached
  | 'unavailable' // 503
  | 'upstream'; // 502: a carrier or provider refused

export class DomainError extends Error {
  constructor(
    readonly kind: DomainErrorKind,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const invalid = (field: string, message: string) => new DomainError('invalid', message, field);
export const notFound = (what: string) => new DomainError('not_found', `${what} not found`);
export const conflict = (message: string, field?: string) => new DomainError('conflict', message, field);
export const forbidden = (message: string) => new DomainError('forbidden', message);
