/**
 * SIP message model: ordered, repeatable headers plus a raw body.
 * Typed accessors (cseq, from, vias, ...) parse on demand so the header list
 * stays the single source of truth.
 */
import { SipParseError } from './errors.js';
import { canonicalName, headerKey, parseCSeq, parseNameAddr, parseVias, type CSeq, type NameAddr, type Via } from './headers.js';
import { newTag } from './ids.js';
import { formatUri, type SipUri } from './uri.js';

export const SIP_VERSION = 'SIP/2.0';

export type HeaderInit = Record<string, string | string[] | undefined> | Iterable<readonly [string, string]>;

export class SipHeaders implements Iterable<[string, string]> {
  private list: Array<{ key: string; name: string; value: string }> = [];

  constructor(init?: HeaderInit) {
    if (!init) return;
    if (Symbol.iterator in init) {
      for (const [n, v] of init as Iterable<readonly [string, string]>) this.append(n, v);
    } else {
      for (const [n, v] of Object.entries(init)) if (v !== undefined) this.append(n, v);
    }
  }

  /** First value of the header, compact and long names alike. */
  get(name: string): string | undefined {
    const key = headerKey(name);
    return this.list.find((h) => h.key === key)?.value;
  }

  /** Every line's value in order (list headers are not split; see splitTopLevel). */
  getAll(name: string): string[] {
    const key = headerKey(name);
    return this.list.filter((h) => h.key === key).map((h) => h.value);
  }

  has(name: string): boolean {
    const key = headerKey(name);
    return this.list.some((h) => h.key === key);
  }

  /** Replaces all lines of the header, keeping the position of the first one. */
  set(name: string, value: string | string[]): this {
    const key = headerKey(name);
    const values = Array.isArray(value) ? value : [value];
    const first = this.list.findIndex((h) => h.key === key);
    this.list = this.list.filter((h) => h.key !== key);
    const entries = values.map((v) => ({ key, name: canonicalName(name), value: v }));
    this.list.splice(first < 0 ? this.list.length : first, 0, ...entries);
    return this;
  }

  append(name: string, value: string | string[]): this {
    const key = headerKey(name);
    for (const v of Array.isArray(value) ? value : [value]) this.list.push({ key, name: canonicalName(name), value: v });
    return this;
  }

  /** Inserts before all other lines of the same header (used for Via). */
  prepend(name: string, value: string): this {
    const key = headerKey(name);
    const first = this.list.findIndex((h) => h.key === key);
    this.list.splice(first < 0 ? this.list.length : first, 0, { key, name: canonicalName(name), value });
    return this;
  }

  remove(name: string): this {
    const key = headerKey(name);
    this.list = this.list.filter((h) => h.key !== key);
    return this;
  }

  get size(): number {
    return this.list.length;
  }

  clone(): SipHeaders {
    const h = new SipHeaders();
    h.list = this.list.map((e) => ({ ...e }));
    return h;
  }

  *[Symbol.iterator](): Iterator<[string, string]> {
    for (const h of this.list) yield [h.name, h.value];
  }
}

function toBuffer(body: string | Buffer | undefined): Buffer {
  if (body === undefined) return Buffer.alloc(0);
  return typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
}

abstract class SipMessageBase {
  headers: SipHeaders;
  body: Buffer;

  constructor(headers?: SipHeaders | HeaderInit, body?: string | Buffer) {
    this.headers = headers instanceof SipHeaders ? headers : new SipHeaders(headers);
    this.body = toBuffer(body);
  }

  abstract startLine(): string;

  get callId(): string | undefined {
    return this.headers.get('Call-ID');
  }

  /** Parsed CSeq; throws SipParseError when missing or malformed. */
  get cseq(): CSeq {
    const v = this.headers.get('CSeq');
    if (v === undefined) throw new SipParseError('missing CSeq');
    return parseCSeq(v);
  }

  get from(): NameAddr {
    return this.nameAddr('From');
  }

  get to(): NameAddr {
    return this.nameAddr('To');
  }

  /** All Via entries, top first. */
  get vias(): Via[] {
    return parseVias(this.headers.getAll('Via'));
  }

  get topVia(): Via | undefined {
    return this.vias[0];
  }

  private nameAddr(name: string): NameAddr {
    const v = this.headers.get(name);
    if (v === undefined) throw new SipParseError(`missing ${name}`);
    return parseNameAddr(v);
  }

  /**
   * Wire form: CRLF line endings; Content-Length always written last among the
   * headers and always matching the body, whatever the header list said.
   */
  serialize(): Buffer {
    let head = `${this.startLine()}\r\n`;
    for (const [name, value] of this.headers) {
      if (headerKey(name) === 'content-length') continue;
      head += `${name}: ${value}\r\n`;
    }
    head += `Content-Length: ${this.body.length}\r\n\r\n`;
    return this.body.length ? Buffer.concat([Buffer.from(head, 'utf8'), this.body]) : Buffer.from(head, 'utf8');
  }

  toString(): string {
    return this.serialize().toString('utf8');
  }
}

export class SipRequest extends SipMessageBase {
  method: string;
  uri: SipUri;

  constructor(method: string, uri: SipUri, headers?: SipHeaders | HeaderInit, body?: string | Buffer) {
    super(headers, body);
    this.method = method;
    this.uri = uri;
  }

  startLine(): string {
    return `${this.method} ${formatUri(this.uri)} ${SIP_VERSION}`;
  }
}

export class SipResponse extends SipMessageBase {
  status: number;
  reason: string;

  constructor(status: number, reason?: string, headers?: SipHeaders | HeaderInit, body?: string | Buffer) {
    super(headers, body);
    this.status = status;
    this.reason = reason ?? REASON_PHRASES[status] ?? '';
  }

  startLine(): string {
    return `${SIP_VERSION} ${this.status} ${this.reason}`;
  }
}

export type SipMessage = SipRequest | SipResponse;

export function isRequest(m: SipMessage): m is SipRequest {
  return m instanceof SipRequest;
}

export const REASON_PHRASES: Readonly<Record<number, string>> = {
  100: 'Trying', 180: 'Ringing', 181: 'Call Is Being Forwarded', 182: 'Queued', 183: 'Session Progress',
  200: 'OK', 202: 'Accepted', 204: 'No Notification',
  300: 'Multiple Choices', 301: 'Moved Permanently', 302: 'Moved Temporarily', 305: 'Use Proxy', 380: 'Alternative Service',
  400: 'Bad Request', 401: 'Unauthorized', 402: 'Payment Required', 403: 'Forbidden', 404: 'Not Found',
  405: 'Method Not Allowed', 406: 'Not Acceptable', 407: 'Proxy Authentication Required', 408: 'Request Timeout',
  410: 'Gone', 413: 'Request Entity Too Large', 414: 'Request-URI Too Long', 415: 'Unsupported Media Type',
  416: 'Unsupported URI Scheme', 420: 'Bad Extension', 421: 'Extension Required', 423: 'Interval Too Brief',
  480: 'Temporarily Unavailable', 481: 'Call/Transaction Does Not Exist', 482: 'Loop Detected', 483: 'Too Many Hops',
  484: 'Address Incomplete', 485: 'Ambiguous', 486: 'Busy Here', 487: 'Request Terminated', 488: 'Not Acceptable Here',
  489: 'Bad Event', 491: 'Request Pending', 493: 'Undecipherable',
  500: 'Server Internal Error', 501: 'Not Implemented', 502: 'Bad Gateway', 503: 'Service Unavailable',
  504: 'Server Time-out', 505: 'Version Not Supported', 513: 'Message Too Large',
  600: 'Busy Everywhere', 603: 'Decline', 604: 'Does Not Exist Anywhere', 606: 'Not Acceptable',
};

export interface ResponseOptions {
  /** To tag to add when the request's To has none (status > 100). Default: a fresh tag. */
  toTag?: string;
  headers?: Record<string, string | string[]>;
  body?: string | Buffer;
}

/**
 * Builds a response per RFC 3261 §8.2.6.2: Via (all, in order), From, To, Call-ID
 * and CSeq copied; a To tag added unless this is a 100 or the To already has one.
 * Header values are copied verbatim so a response to a tortured request is still
 * recognisable by its sender.
 */
export function createResponse(req: SipRequest, status: number, reason?: string, opts: ResponseOptions = {}): SipResponse {
  const h = new SipHeaders();
  for (const v of req.headers.getAll('Via')) h.append('Via', v);
  const from = req.headers.get('From');
  if (from !== undefined) h.append('From', from);
  let to = req.headers.get('To');
  if (to !== undefined && status > 100 && !hasTag(to)) to = `${to};tag=${opts.toTag ?? newTag()}`;
  if (to !== undefined) h.append('To', to);
  const callId = req.headers.get('Call-ID');
  if (callId !== undefined) h.append('Call-ID', callId);
  const cseq = req.headers.get('CSeq');
  if (cseq !== undefined) h.append('CSeq', cseq);
  for (const [n, v] of Object.entries(opts.headers ?? {})) h.append(n, v);
  return new SipResponse(status, reason, h, opts.body);
}

function hasTag(nameAddrValue: string): boolean {
  try {
    return parseNameAddr(nameAddrValue).params.has('tag');
  } catch {
    // An unparseable To can only come from a partial message; fall back to a textual check.
    return /;\s*tag\s*=/i.test(nameAddrValue.slice(nameAddrValue.lastIndexOf('>') + 1));
  }
}
