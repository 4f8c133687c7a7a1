/**
 * Header-level grammar: names (compact and canonical forms), name-addr,
 * Via, CSeq and the scalar headers the stack itself relies on.
 */
import { SipParseError } from './errors.js';
import { Scanner, formatParams, isToken, parseParams, quote, splitTopLevel, type Params } from './lex.js';
import { formatHost, formatUri, parseHostPort, parseUri, type SipUri } from './uri.js';

/** RFC 3261 §7.3.3 compact forms plus the common extension ones. */
export const COMPACT_FORMS: Readonly<Record<string, string>> = {
  i: 'Call-ID',
  m: 'Contact',
  e: 'Content-Encoding',
  l: 'Content-Length',
  c: 'Content-Type',
  f: 'From',
  s: 'Subject',
  k: 'Supported',
  t: 'To',
  v: 'Via',
  o: 'Event',
  r: 'Refer-To',
  b: 'Referred-By',
  u: 'Allow-Events',
  x: 'Session-Expires',
};

const KNOWN_NAMES = [
  'Accept', 'Accept-Encoding', 'Accept-Language', 'Alert-Info', 'Allow', 'Allow-Events',
  'Authentication-Info', 'Authorization', 'Call-ID', 'Call-Info', 'Contact', 'Content-Disposition',
  'Content-Encoding', 'Content-Language', 'Content-Length', 'Content-Type', 'CSeq', 'Date',
  'Error-Info', 'Event', 'Expires', 'From', 'In-Reply-To', 'Max-Forwards', 'Min-Expires',
  'Min-SE', 'MIME-Version', 'Organization', 'P-Asserted-Identity', 'P-Preferred-Identity', 'Path',
  'Priority', 'Privacy', 'Proxy-Authenticate', 'Proxy-Authorization', 'Proxy-Require', 'RAck',
  'Reason', 'Record-Route', 'Refer-To', 'Referred-By', 'Reply-To', 'Require', 'Retry-After',
  'Route', 'RSeq', 'Server', 'Service-Route', 'Session-Expires', 'Subject', 'Subscription-State',
  'Supported', 'Timestamp', 'To', 'Unsupported', 'User-Agent', 'Via', 'Warning', 'WWW-Authenticate',
];
const CANONICAL = new Map(KNOWN_NAMES.map((n) => [n.toLowerCase(), n]));

/** Expands compact forms and fixes the case of known names; unknown names are kept as written. */
// Every header access asks for these, with the same few dozen names: remember them (bounded, as
// names in received messages are the sender's choice).
const NAME_CACHE_MAX = 2048;
const canonicalNames = new Map<string, string>();
const headerKeys = new Map<string, string>();

export function canonicalName(name: string): string {
  const hit = canonicalNames.get(name);
  if (hit !== undefined) return hit;
  const lower = name.trim().toLowerCase();
  const out = (Object.hasOwn(COMPACT_FORMS, lower) ? COMPACT_FORMS[lower] : undefined) ?? CANONICAL.get(lower) ?? name.trim();
  if (canonicalNames.size < NAME_CACHE_MAX) canonicalNames.set(name, out);
  return out;
}

/** Lookup key for a header name: compact and long forms map to the same key. */
export function headerKey(name: string): string {
  const hit = headerKeys.get(name);
  if (hit !== undefined) return hit;
  const key = canonicalName(name).toLowerCase();
  if (headerKeys.size < NAME_CACHE_MAX) headerKeys.set(name, key);
  return key;
}

/**
 * Headers whose values are comma-separated lists (RFC 3261 §7.3.1), i.e. that may be
 * split or combined freely. Authentication headers are deliberately absent: their
 * params contain commas.
 */
const LIST_HEADERS = new Set([
  'via', 'contact', 'route', 'record-route', 'path', 'service-route', 'allow', 'supported',
  'require', 'proxy-require', 'unsupported', 'accept', 'accept-encoding', 'accept-language',
  'content-encoding', 'allow-events', 'in-reply-to',
]);

export function isListHeader(name: string): boolean {
  return LIST_HEADERS.has(headerKey(name));
}

// ---------------------------------------------------------------- name-addr

export interface NameAddr {
  displayName?: string;
  uri: SipUri;
  /** Header parameters (after the URI), e.g. tag, expires, q. */
  params: Params;
}

/**
 * Parses `[display-name] <URI> *(;param)` or `addr-spec *(;param)`.
 * In the addr-spec form params belong to the header, not the URI (RFC 3261 §20.10).
 */
export function parseNameAddr(value: string): NameAddr {
  const what = 'name-addr';
  const sc = new Scanner(value);
  sc.skipWs();
  let displayName: string | undefined;
  let uriText: string;
  if (sc.peek() === '"') {
    displayName = sc.readQuoted(what);
    sc.skipWs();
    if (sc.peek() !== '<') throw new SipParseError('expected "<" after display name');
  }
  const rest = value.slice(sc.i);
  const lt = rest.indexOf('<');
  if (lt >= 0 && (displayName !== undefined || !/[;]/.test(rest.slice(0, lt)))) {
    if (displayName === undefined) {
      const dn = rest.slice(0, lt).trim();
      if (dn) {
        const words = dn.split(/[ \t\r\n]+/);
        if (!words.every(isToken)) throw new SipParseError(`invalid display name "${dn.slice(0, 40)}"`);
        displayName = words.join(' ');
      }
    } else if (lt !== 0) {
      throw new SipParseError('unexpected text after display name');
    }
    const gt = rest.indexOf('>', lt);
    if (gt < 0) throw new SipParseError('unterminated "<" in name-addr');
    uriText = rest.slice(lt + 1, gt);
    sc.i += gt + 1;
  } else {
    // addr-spec: the URI ends at the first ";" or whitespace
    const m = /^[^;\s]*/.exec(rest)!;
    uriText = m[0];
    sc.i += uriText.length;
  }
  const uri = parseUri(uriText);
  const params = parseParams(sc, what);
  const na: NameAddr = { uri, params };
  if (displayName !== undefined) na.displayName = displayName;
  return na;
}

export function formatNameAddr(na: NameAddr): string {
  const dn = na.displayName !== undefined && na.displayName !== '' ? `${quote(na.displayName)} ` : '';
  return `${dn}<${formatUri(na.uri)}>${formatParams(na.params)}`;
}

/** Parses a list header of name-addrs (Contact, Route, ...). "*" yields an empty list with star=true. */
export function parseNameAddrList(values: string[]): { star: boolean; items: NameAddr[] } {
  const items: NameAddr[] = [];
  let star = false;
  for (const v of values) {
    for (const part of splitTopLevel(v)) {
      if (part === '') continue;
      if (part === '*') star = true;
      else items.push(parseNameAddr(part));
    }
  }
  return { star, items };
}

// ---------------------------------------------------------------- Via

export class Via {
  constructor(
    public protocol: string,
    public transport: string,
    public host: string,
    public port: number | undefined,
    public params: Params = new Map(),
  ) {}

  get branch(): string | undefined {
    return this.params.get('branch') ?? undefined;
  }
  get received(): string | undefined {
    return this.params.get('received') ?? undefined;
  }
  /** undefined = absent; null = present without value (a request for it, RFC 3581). */
  get rport(): number | null | undefined {
    if (!this.params.has('rport')) return undefined;
    const v = this.params.get('rport');
    return v === null || v === undefined ? null : Number(v);
  }
  /** sent-by as used for transaction matching. */
  get sentBy(): string {
    return `${this.host.toLowerCase()}:${this.port ?? ''}`;
  }
  toString(): string {
    return formatVia(this);
  }
}

/** Parses one via-parm: `SIP / 2.0 / UDP host[:port] *(;param)`, tolerating LWS around "/". */
export function parseVia(value: string): Via {
  const what = 'Via';
  const sc = new Scanner(value);
  sc.skipWs();
  const name = sc.readToken(what);
  sc.skipWs();
  sc.expect('/', what);
  sc.skipWs();
  const version = sc.readToken(what);
  sc.skipWs();
  sc.expect('/', what);
  sc.skipWs();
  const transport = sc.readToken(what).toUpperCase();
  if (sc.skipWs() === 0) throw new SipParseError('missing space before Via sent-by');
  // sent-by = host [ COLON port ] with SWS allowed around the colon
  const rest = value.slice(sc.i).replace(/^(\[[^\]]*\]|[^\s:;]+)\s*:\s*/, '$1:');
  const hp = parseHostPort(rest, what);
  const tailSc = new Scanner(rest, hp.end);
  const params = parseParams(tailSc, what);
  const rport = params.get('rport');
  if (rport !== undefined && rport !== null && !/^[0-9]{1,5}$/.test(rport)) throw new SipParseError('invalid rport');
  const ttl = params.get('ttl');
  if (ttl !== undefined && (ttl === null || !/^[0-9]{1,3}$/.test(ttl) || Number(ttl) > 255)) throw new SipParseError('invalid ttl');
  if (params.get('branch') === null) throw new SipParseError('empty branch');
  return new Via(`${name.toUpperCase()}/${version}`, transport, hp.host, hp.port, params);
}

/** Parses every Via header value (each possibly a comma list) in order. */
export function parseVias(values: string[]): Via[] {
  const out: Via[] = [];
  for (const v of values) for (const part of splitTopLevel(v)) out.push(parseVia(part));
  return out;
}

export function formatVia(v: Via): string {
  const port = v.port === undefined ? '' : `:${v.port}`;
  return `${v.protocol}/${v.transport} ${formatHost(v.host)}${port}${formatParams(v.params)}`;
}

// ---------------------------------------------------------------- scalar headers

export interface CSeq {
  seq: number;
  method: string;
}

const MAX_CSEQ = 2 ** 31 - 1; // RFC 3261 §8.1.1.5: less than 2**31

export function parseCSeq(value: string): CSeq {
  const m = /^[ \t]*([0-9]{1,10})[ \t]+(\S+)[ \t]*$/.exec(value);
  if (!m || !isToken(m[2]!)) throw new SipParseError(`invalid CSeq "${value.slice(0, 40)}"`);
  const seq = Number(m[1]);
  if (seq > MAX_CSEQ) throw new SipParseError('CSeq number out of range');
  return { seq, method: m[2]! };
}

/** Parses a non-negative decimal header such as Content-Length, Expires, Max-Forwards. */
export function parseUnsigned(value: string, name: string, max: number): number {
  const t = value.trim();
  if (!/^[0-9]{1,10}$/.test(t)) throw new SipParseError(`invalid ${name} "${t.slice(0, 20)}"`);
  const n = Number(t);
  if (n > max) throw new SipParseError(`${name} out of range`);
  return n;
}

