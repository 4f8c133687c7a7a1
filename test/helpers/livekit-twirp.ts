import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SIPDispatchRule, SIPDispatchRuleInfo, SIPInboundTrunkInfo, RoomConfiguration } from 'livekit-server-sdk';

/**
 * A loopback stand-in for LiveKit's SIP service as the server SDK reaches it: Twirp over HTTP
 * with JSON bodies (`POST /twirp/livekit.SIP/<Method>`), each request carrying a bearer JWT signed
 * HS256 with the API secret, issued by the API key, granting `sip.admin`. State lives in memory;
 * every request is recorded. Answers and errors are shaped as LiveKit's Twirp server sends them:
 * proto field names in the JSON, errors as `{code, msg}` with the Twirp HTTP status.
 */

export interface RecordedRequest {
  method: string;
  body: Record<string, any>;
  /** The verified token's claims; null when the request was refused for its token. */
  claims: Record<string, any> | null;
  status: number;
}

class TwirpError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

const STATUS: Record<string, number> = {
  invalid_argument: 400, malformed: 400, unauthenticated: 401, permission_denied: 403, not_found: 404,
  bad_route: 404, already_exists: 409, failed_precondition: 412, internal: 500, unavailable: 503,
};

const SERIALIZE = { useProtoFieldName: true } as const;
const PARSE = { ignoreUnknownFields: false } as const;

/** Reads a field as the SDK sends it (JSON names) or by its proto name. */
function field<T = unknown>(body: Record<string, any>, jsonName: string, protoName: string): T | undefined {
  return (body[jsonName] ?? body[protoName]) as T | undefined;
}

function b64urlJson(part: string): any {
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
}

export interface FakeLiveKitOptions {
  apiKey?: string;
  apiSecret?: string;
}

export class FakeLiveKit {
  readonly apiKey: string;
  readonly apiSecret: string;
  readonly trunks = new Map<string, SIPInboundTrunkInfo>();
  readonly rules = new Map<string, SIPDispatchRuleInfo>();
  readonly requests: RecordedRequest[] = [];
  /** While set, every request is answered 503 `unavailable`, as a LiveKit that is down or restarting. */
  unavailable = false;
  private server: Server | null = null;
  private port = 0;

  constructor(opts: FakeLiveKitOptions = {}) {
    this.apiKey = opts.apiKey ?? 'APItestkey';
    this.apiSecret = opts.apiSecret ?? randomBytes(24).toString('base64url');
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    const server = createServer((req, res) => { void this.handle(req, res); });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** The requests that reached a method, in order (refused ones included). */
  calls(method: string): RecordedRequest[] {
    return this.requests.filter((r) => r.method === method);
  }

  rulesNamed(name: string): SIPDispatchRuleInfo[] {
    return [...this.rules.values()].filter((r) => r.name === name);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const method = /^\/twirp\/livekit\.SIP\/(\w+)$/.exec(req.url ?? '')?.[1] ?? req.url ?? '';
    const record: RecordedRequest = { method, body: {}, claims: null, status: 200 };
    this.requests.push(record);
    const reply = (status: number, payload: unknown) => {
      record.status = status;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(payload));
    };
    try {
      if (req.method !== 'POST' || !/^\/twirp\/livekit\.SIP\/\w+$/.test(req.url ?? '')) throw new TwirpError('bad_route', `no handler for ${req.method} ${req.url}`);
      if (!/^application\/json\b/.test(req.headers['content-type'] ?? '')) throw new TwirpError('bad_route', 'this fake speaks the JSON Twirp encoding only');
      record.claims = this.verify(req.headers.authorization);
      try { record.body = raw ? JSON.parse(raw) : {}; } catch { throw new TwirpError('malformed', 'the body is not JSON'); }
      if (this.unavailable) throw new TwirpError('unavailable', 'service unavailable');
      reply(200, this.dispatch(method, record.body));
    } catch (err) {
      const e = err instanceof TwirpError ? err : new TwirpError('internal', String(err));
      reply(STATUS[e.code] ?? 500, { code: e.code, msg: e.message });
    }
  }

  /** HS256 with our secret, issued by our key, in date, with the SIP admin grant. */
  private verify(header: string | undefined): Record<string, any> {
    const token = /^Bearer (\S+)$/.exec(header ?? '')?.[1];
    if (!token) throw new TwirpError('unauthenticated', 'no bearer token');
    const [h, p, s] = token.split('.');
    if (!h || !p || !s) throw new TwirpError('unauthenticated', 'malformed token');
    let head: any;
    let claims: any;
    try { head = b64urlJson(h); claims = b64urlJson(p); } catch { throw new TwirpError('unauthenticated', 'malformed token'); }
    if (head.alg !== 'HS256') throw new TwirpError('unauthenticated', `unsupported alg ${head.alg}`);
    const expected = createHmac('sha256', this.apiSecret).update(`${h}.${p}`).digest();
    const given = Buffer.from(s, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new TwirpError('unauthenticated', 'invalid token signature');
    if (claims.iss !== this.apiKey) throw new TwirpError('unauthenticated', 'unknown API key');
    const now = Math.floor(Date.now() / 1000);
    if (typeof claims.exp !== 'number' || claims.exp < now) throw new TwirpError('unauthenticated', 'token expired');
    if (typeof claims.nbf === 'number' && claims.nbf > now + 5) throw new TwirpError('unauthenticated', 'token not valid yet');
    if (claims.sip?.admin !== true) throw new TwirpError('permission_denied', 'permissions denied');
    return claims;
  }

  private dispatch(method: string, body: Record<string, any>): unknown {
    switch (method) {
      case 'CreateSIPInboundTrunk': return this.createTrunk(body);
      case 'ListSIPInboundTrunk': return this.listTrunks(body);
      case 'UpdateSIPInboundTrunk': return this.updateTrunk(body);
      case 'DeleteSIPTrunk': return this.deleteTrunk(body);
      case 'CreateSIPDispatchRule': return this.createRule(body);
      case 'ListSIPDispatchRule': return this.listRules(body);
      case 'UpdateSIPDispatchRule': return this.updateRule(body);
      case 'DeleteSIPDispatchRule': return this.deleteRule(body);
      default: throw new TwirpError('bad_route', `unknown method ${method}`);
    }
  }

  private createTrunk(body: Record<string, any>): unknown {
    const trunk = SIPInboundTrunkInfo.fromJson(body.trunk ?? {}, PARSE);
    trunk.sipTrunkId = `ST_${randomBytes(6).toString('hex')}`;
    this.validateTrunks([...this.trunks.values(), trunk]);
    this.trunks.set(trunk.sipTrunkId, trunk);
    return trunk.toJson(SERIALIZE);
  }

  private listTrunks(body: Record<string, any>): unknown {
    const ids = field<string[]>(body, 'trunkIds', 'trunk_ids') ?? [];
    const items = [...this.trunks.values()].filter((t) => ids.length === 0 || ids.includes(t.sipTrunkId));
    return { items: items.map((t) => t.toJson(SERIALIZE)) };
  }

  private updateTrunk(body: Record<string, any>): unknown {
    const id = field<string>(body, 'sipTrunkId', 'sip_trunk_id') ?? '';
    const current = this.trunks.get(id);
    if (!current) throw new TwirpError('not_found', `SIP trunk ${id} not found`);
    let next: SIPInboundTrunkInfo;
    if (body.replace) {
      next = SIPInboundTrunkInfo.fromJson(body.replace, PARSE);
    } else if (body.update) {
      next = current.clone();
      const u = body.update;
      for (const [json, proto, key] of [['authUsername', 'auth_username', 'authUsername'], ['authPassword', 'auth_password', 'authPassword'], ['name', 'name', 'name'], ['metadata', 'metadata', 'metadata']] as const) {
        const v = field<string>(u, json, proto);
        if (v !== undefined) (next as any)[key] = v;
      }
    } else {
      throw new TwirpError('invalid_argument', 'no update action');
    }
    next.sipTrunkId = id;
    this.validateTrunks([...this.trunks.values()].filter((t) => t.sipTrunkId !== id).concat(next));
    this.trunks.set(id, next);
    return next.toJson(SERIALIZE);
  }

  private deleteTrunk(body: Record<string, any>): unknown {
    const id = field<string>(body, 'sipTrunkId', 'sip_trunk_id') ?? '';
    if (!id) throw new TwirpError('invalid_argument', 'trunk ID is required');
    if (!this.trunks.delete(id)) throw new TwirpError('not_found', `SIP trunk ${id} not found`);
    return { sip_trunk_id: id };
  }

  /** As LiveKit: two trunks answering the same called and calling numbers conflict. */
  private validateTrunks(trunks: SIPInboundTrunkInfo[]): void {
    const seen = new Set<string>();
    for (const t of trunks) {
      for (const num of t.numbers.length ? t.numbers : ['']) {
        for (const allowed of t.allowedNumbers.length ? t.allowedNumbers : ['']) {
          const key = `${num}|${allowed}`;
          if (seen.has(key)) throw new TwirpError('invalid_argument', `Conflicting inbound SIP Trunks: same numbers for ${t.sipTrunkId || '<new>'}`);
          seen.add(key);
        }
      }
    }
  }

  private createRule(body: Record<string, any>): unknown {
    let info: SIPDispatchRuleInfo;
    const whole = field<object>(body, 'dispatchRule', 'dispatch_rule');
    if (whole) {
      info = SIPDispatchRuleInfo.fromJson(whole as any, PARSE);
    } else {
      // The SDK still sends the request's deprecated top-level fields.
      const rule = body.rule ? SIPDispatchRule.fromJson(body.rule, PARSE) : undefined;
      const roomConfig = field<object>(body, 'roomConfig', 'room_config');
      info = new SIPDispatchRuleInfo({
        rule,
        trunkIds: field<string[]>(body, 'trunkIds', 'trunk_ids') ?? [],
        inboundNumbers: field<string[]>(body, 'inboundNumbers', 'inbound_numbers') ?? [],
        hidePhoneNumber: field<boolean>(body, 'hidePhoneNumber', 'hide_phone_number') ?? false,
        name: body.name ?? '',
        metadata: body.metadata ?? '',
        attributes: body.attributes ?? {},
        roomConfig: roomConfig ? RoomConfiguration.fromJson(roomConfig as any, PARSE) : undefined,
      });
    }
    if (!info.rule?.rule.case) throw new TwirpError('invalid_argument', 'dispatch rule is required');
    this.validateRules([...this.rules.values(), info]);
    info.sipDispatchRuleId = `SDR_${randomBytes(6).toString('hex')}`;
    this.rules.set(info.sipDispatchRuleId, info);
    return info.toJson(SERIALIZE);
  }

  private listRules(body: Record<string, any>): unknown {
    const ids = field<string[]>(body, 'dispatchRuleIds', 'dispatch_rule_ids') ?? [];
    const trunkIds = field<string[]>(body, 'trunkIds', 'trunk_ids') ?? [];
    const items = [...this.rules.values()]
      .filter((r) => ids.length === 0 || ids.includes(r.sipDispatchRuleId))
      .filter((r) => trunkIds.length === 0 || r.trunkIds.length === 0 || r.trunkIds.some((t) => trunkIds.includes(t)));
    return { items: items.map((r) => r.toJson(SERIALIZE)) };
  }

  private updateRule(body: Record<string, any>): unknown {
    const id = field<string>(body, 'sipDispatchRuleId', 'sip_dispatch_rule_id') ?? '';
    const current = this.rules.get(id);
    if (!current) throw new TwirpError('not_found', `SIP dispatch rule ${id} not found`);
    let next: SIPDispatchRuleInfo;
    if (body.replace) {
      next = SIPDispatchRuleInfo.fromJson(body.replace, PARSE);
    } else if (body.update) {
      next = current.clone();
      const u = body.update;
      if (u.name !== undefined) next.name = u.name;
      if (u.metadata !== undefined) next.metadata = u.metadata;
      if (u.rule) next.rule = SIPDispatchRule.fromJson(u.rule, PARSE);
      const trunks = field<{ set?: string[]; add?: string[]; remove?: string[] }>(u, 'trunkIds', 'trunk_ids');
      if (trunks) {
        let list = trunks.set ?? next.trunkIds;
        list = list.concat(trunks.add ?? []).filter((t) => !(trunks.remove ?? []).includes(t));
        next.trunkIds = [...new Set(list)];
      }
    } else {
      throw new TwirpError('invalid_argument', 'no update action');
    }
    next.sipDispatchRuleId = id;
    this.validateRules([...this.rules.values()].filter((r) => r.sipDispatchRuleId !== id).concat(next));
    this.rules.set(id, next);
    return next.toJson(SERIALIZE);
  }

  private deleteRule(body: Record<string, any>): unknown {
    const id = field<string>(body, 'sipDispatchRuleId', 'sip_dispatch_rule_id') ?? '';
    const rule = this.rules.get(id);
    if (!rule) throw new TwirpError('not_found', `SIP dispatch rule ${id} not found`);
    this.rules.delete(id);
    return rule.toJson(SERIALIZE);
  }

  /** As LiveKit: one rule per trunk + calling number + called number + PIN. */
  private validateRules(rules: SIPDispatchRuleInfo[]): void {
    const seen = new Map<string, SIPDispatchRuleInfo>();
    for (const r of rules) {
      const value = r.rule?.rule.value as { pin?: string } | undefined;
      const pin = value?.pin ?? '';
      for (const trunk of r.trunkIds.length ? r.trunkIds : ['']) {
        for (const inbound of r.inboundNumbers.length ? r.inboundNumbers : ['']) {
          for (const num of r.numbers.length ? r.numbers : ['']) {
            const key = JSON.stringify([pin, trunk, inbound, num]);
            const other = seen.get(key);
            if (other) {
              throw new TwirpError('invalid_argument', `Dispatch rule for the same trunk, inbound number, number, and PIN combination already exists in dispatch rule "${other.sipDispatchRuleId || '<new>'}"`);
            }
            seen.set(key, r);
          }
        }
      }
    }
  }

  /**
   * Which rule LiveKit picks for a call on `trunkId` to `calledUser` (the INVITE's To user), by
   * the same filters LiveKit applies: trunk, called number, then rules without a trunk.
   */
  matchRule(trunkId: string, calledUser: string): SIPDispatchRuleInfo | null {
    const candidates = [...this.rules.values()].filter((r) => r.numbers.length === 0 || r.numbers.includes(calledUser));
    return candidates.find((r) => r.trunkIds.includes(trunkId)) ?? candidates.find((r) => r.trunkIds.length === 0) ?? null;
  }
}

/** A started fake; stop it in `after`. */
export async function startFakeLiveKit(opts: FakeLiveKitOptions = {}): Promise<FakeLiveKit> {
  return new FakeLiveKit(opts).start();
}
