/**
 * Low-level lexical helpers shared by the header and URI parsers
 * (RFC 3261 §25.1: token, quoted-string, LWS, generic-param).
 */
import { SipParseError } from './errors.js';

/** token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~") */
const TOKEN_RE = /^[A-Za-z0-9\-.!%*_+`'~]+$/;
const TOKEN_CHAR_RE = /[A-Za-z0-9\-.!%*_+`'~]/;

export function isToken(s: string): boolean {
  return TOKEN_RE.test(s);
}

export function isTokenChar(c: string): boolean {
  return TOKEN_CHAR_RE.test(c);
}

export function isWs(c: string | undefined): boolean {
  return c === ' ' || c === '\t' || c === '\r' || c === '\n';
}

/** gen-value = token / host / quoted-string; host adds ":" "[" "]" for IPv6 references. */
function isParamValueChar(c: string): boolean {
  return isTokenChar(c) || c === ':' || c === '[' || c === ']';
}

/** Cursor over a header value. Methods throw SipParseError on violations. */
export class Scanner {
  constructor(
    readonly s: string,
    public i = 0,
  ) {}

  eof(): boolean {
    return this.i >= this.s.length;
  }

  peek(): string | undefined {
    return this.s[this.i];
  }

  skipWs(): number {
    const start = this.i;
    while (isWs(this.s[this.i])) this.i++;
    return this.i - start;
  }

  expect(ch: string, what: string): void {
    if (this.s[this.i] !== ch) throw new SipParseError(`expected "${ch}" in ${what}`);
    this.i++;
  }

  readWhile(pred: (c: string) => boolean): string {
    const start = this.i;
    while (this.i < this.s.length && pred(this.s[this.i]!)) this.i++;
    return this.s.slice(start, this.i);
  }

  readToken(what: string): string {
    const t = this.readWhile(isTokenChar);
    if (!t) throw new SipParseError(`expected token in ${what}`);
    return t;
  }

  /** Reads a quoted-string starting at the opening quote and returns it unescaped. */
  readQuoted(what: string): string {
    this.expect('"', what);
    let out = '';
    for (;;) {
      const c = this.s[this.i];
      if (c === undefined) throw new SipParseError(`unterminated quoted string in ${what}`);
      this.i++;
      if (c === '"') return out;
      if (c === '\\') {
        const n = this.s[this.i];
        // quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F): never CR or LF
        if (n === undefined || n === '\r' || n === '\n') throw new SipParseError(`bad escape in ${what}`);
        out += n;
        this.i++;
        continue;
      }
      if (c === '\r' || c === '\n') throw new SipParseError(`line break inside quoted string in ${what}`);
      out += c;
    }
  }
}

/** Adds surrounding quotes, escaping backslash and quote. */
export function quote(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/**
 * Splits a header value on `sep` where the separator is outside quoted strings
 * and angle brackets (so "a <sip:x;p=1,2>, b" splits once). Parts are trimmed.
 */
export function splitTopLevel(s: string, sep = ','): string[] {
  const parts: string[] = [];
  let depth = 0;
  let inQuote = false;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (inQuote) {
      if (c === '\\') i++;
      else if (c === '"') inQuote = false;
      continue;
    }
    if (c === '"') inQuote = true;
    else if (c === '<') depth++;
    else if (c === '>') depth = Math.max(0, depth - 1);
    else if (c === sep && depth === 0) {
      parts.push(s.slice(start, i).trim());
      start = i + 1;
    }
  }
  parts.push(s.slice(start).trim());
  return parts;
}

export type Params = Map<string, string | null>;

/**
 * Parses `*( SEMI generic-param )` from the scanner position to the end of input.
 * Names are lower-cased; a name without "=" maps to null; quoted values are unescaped.
 */
export function parseParams(sc: Scanner, what: string): Params {
  const params: Params = new Map();
  for (;;) {
    sc.skipWs();
    if (sc.eof()) return params;
    sc.expect(';', what);
    sc.skipWs();
    const name = sc.readWhile(isTokenChar);
    if (!name) throw new SipParseError(`empty parameter name in ${what}`);
    sc.skipWs();
    let value: string | null = null;
    if (sc.peek() === '=') {
      sc.i++;
      sc.skipWs();
      if (sc.peek() === '"') {
        value = sc.readQuoted(what);
      } else {
        value = sc.readWhile(isParamValueChar);
        if (!value) throw new SipParseError(`empty value for parameter "${name}" in ${what}`);
      }
    }
    params.set(name.toLowerCase(), value);
  }
}

/** Formats params back to `;name=value` form, quoting values that are not plain. */
export function formatParams(params: ReadonlyMap<string, string | null>): string {
  let out = '';
  for (const [k, v] of params) {
    if (v === null) out += `;${k}`;
    else if (v !== '' && [...v].every(isParamValueChar)) out += `;${k}=${v}`;
    else out += `;${k}=${quote(v)}`;
  }
  return out;
}
