/**
 * Typed errors of the SIP stack. Every error the stack surfaces carries a
 * `kind` so callers can branch without instanceof chains across module copies.
 */

export type SipErrorKind = 'parse' | 'timeout' | 'transport' | 'tls' | 'resolve';

export class SipError extends Error {
  readonly kind: SipErrorKind;
  constructor(kind: SipErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.kind = kind;
    this.name = new.target.name;
  }
}

/**
 * What could be salvaged from a message that failed to parse. The stack uses it
 * to answer 400 when the essential headers (Via, CSeq, Call-ID) are readable.
 */
export interface PartialMessage {
  isRequest: boolean;
  method?: string;
  headers: Array<[name: string, value: string]>;
}

export class SipParseError extends SipError {
  /** Present when the start line and header section could be split into lines. */
  partial?: PartialMessage;
  constructor(message: string, partial?: PartialMessage) {
    super('parse', message);
    if (partial) this.partial = partial;
  }
}

export class SipTimeoutError extends SipError {
  constructor(message: string) {
    super('timeout', message);
  }
}

export class SipTransportError extends SipError {
  /** The OS / OpenSSL error code when there is one (ECONNREFUSED, CERT_HAS_EXPIRED, ...). */
  readonly code?: string;
  constructor(kind: 'transport' | 'tls', message: string, code?: string, cause?: unknown) {
    super(kind, message, cause === undefined ? undefined : { cause });
    if (code !== undefined) this.code = code;
  }
}

export class SipResolveError extends SipError {
  readonly host: string;
  constructor(host: string, cause?: unknown) {
    super('resolve', `no address for ${host}`, cause === undefined ? undefined : { cause });
    this.host = host;
  }
}
