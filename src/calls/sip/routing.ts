/**
 * Where an inbound INVITE goes, decided as a value: accept (which tenant, agent, handler, line)
 * or reject (a SIP status and a reason). The edge carries the decision out; nothing here sends
 * SIP. The steps run in order and the first that decides ends the pipeline:
 * identify the target (line → direct URI → tenant number) → check the agent → choose the handler.
 */
import { parsePhoneNumberFromString } from 'libphonenumber-js';
import type { Agent } from '../../domain/agents.js';
import { DEFAULT_CALL_HANDLER, type CallHandler } from '../../domain/call-handler.js';
import { DomainError } from '../../domain/errors.js';
import type { Scope } from '../../domain/principal.js';
import type { Services } from '../../domain/services.js';
import type { NumberAuth } from './trunk-auth.js';
import type { TrustedSources } from './trust.js';

/** The facts of an INVITE the pipeline looks at. */
export interface InviteFacts {
  requestUser: string | undefined;
  requestHost: string;
  toUser: string | undefined;
  fromUser: string | undefined;
  /** The previous hop. */
  sourceAddress: string;
  /** The registration whose Contact the Request-URI names (from the registration engine). */
  lineId: string | null;
  /** The INVITE's Proxy-Authorization, if any. */
  credentials?: string;
}

export interface RoutedCall {
  scope: Scope;
  agent: Agent;
  handler: CallHandler;
  lineId: string | null;
  /** The tenant number called, when the call came in on one. */
  phoneNumber: string | null;
  fromNumber: string;
  toNumber: string;
  /** The INVITE came from one of the tenant's trunks or registrars: it may cause calls through the tenant's trunks. */
  trusted: boolean;
}

export type RouteDecision =
  | { kind: 'accept'; call: RoutedCall }
  | { kind: 'reject'; status: number; reason: string; headers?: Record<string, string> };

const reject = (status: number, reason: string, headers?: Record<string, string>): RouteDecision =>
  (headers ? { kind: 'reject', status, reason, headers } : { kind: 'reject', status, reason });

const DIRECT_USER = /^direct\.([0-9a-f]{12})$/i;

/** The called user as E.164 (`+15551230000`, `15551230000`, `tel`-style with separators), or null. */
export function calledNumber(user: string | undefined): string | null {
  if (!user) return null;
  const digits = user.replace(/[\s().-]/g, '');
  if (!/^\+?[1-9]\d{6,14}$/.test(digits)) return null;
  const parsed = parsePhoneNumberFromString(digits.startsWith('+') ? digits : `+${digits}`);
  return parsed?.isPossible() ? parsed.number : null;
}

type Target = { scope: Scope; agentId: string | null; agent?: Agent; lineId: string | null; lineHandler: CallHandler | null; phoneNumber: string | null; trusted: boolean };

const TENANT_STATUS_TTL_MS = 1000;

export class InboundRouter {
  private readonly tenantStatus = new Map<string, { at: number; suspended: boolean }>();

  constructor(
    private readonly services: Services,
    private readonly trust: TrustedSources,
    private readonly auth: NumberAuth | null = null,
    private readonly now: () => number = Date.now,
  ) {}

  async route(facts: InviteFacts): Promise<RouteDecision> {
    const target = await this.identify(facts);
    if ('kind' in target) return target;
    if (!target.agentId) {
      return reject(480, target.lineId ? `no agent is listening on line ${target.lineId}` : `no agent answers ${target.phoneNumber}`);
    }
    let agent: Agent;
    try {
      agent = target.agent ?? await this.services.agents.get(target.scope, target.agentId);
    } catch (err) {
      if (err instanceof DomainError && err.kind === 'not_found') return reject(404, 'the agent of this address no longer exists');
      throw err;
    }
    const checked = await this.checkAgent(target.scope, agent);
    if (checked) return checked;
    const trusted = target.trusted || await this.trust.isTrusted(target.scope, facts.sourceAddress);
    return {
      kind: 'accept',
      call: {
        scope: target.scope,
        agent,
        handler: target.lineHandler ?? (await this.agentHandler(target.scope, agent)),
        lineId: target.lineId,
        phoneNumber: target.phoneNumber,
        fromNumber: calledNumber(facts.fromUser) ?? facts.fromUser ?? 'anonymous',
        toNumber: target.phoneNumber ?? calledNumber(facts.toUser) ?? facts.requestUser ?? '',
        trusted,
      },
    };
  }

  /** Step 1: the line, the direct URI or the tenant number the INVITE is for. */
  private async identify(facts: InviteFacts): Promise<Target | RouteDecision> {
    if (facts.lineId) {
      const found = await this.services.registrations.findListener(facts.lineId);
      if (!found || found.registration.status === 'disabled') return reject(404, 'no such line');
      const scope = { tenantId: found.registration.tenantId };
      return { scope, agentId: found.agentId, lineId: facts.lineId, lineHandler: found.registration.handler, phoneNumber: null, trusted: false };
    }
    const direct = DIRECT_USER.exec(facts.requestUser ?? '');
    if (direct) {
      const agent = await this.services.agents.findByDirectHash(direct[1]!.toLowerCase());
      if (!agent) return reject(404, 'no agent has this direct address');
      return { scope: { tenantId: agent.tenantId }, agentId: agent.id, agent, lineId: null, lineHandler: null, phoneNumber: null, trusted: false };
    }
    const e164 = calledNumber(facts.requestUser) ?? calledNumber(facts.toUser);
    const number = e164 ? await this.services.numbers.findByE164(e164) : null;
    if (!number) {
      // A trunk's caller id is the tenant's too, but no agent is pinned to it.
      const tenantId = e164 ? await this.services.trunks.tenantOfNumber(e164) : null;
      if (!tenantId) return reject(404, 'no line, agent or number here');
      const refused = await this.admit({ tenantId }, facts);
      if (refused) return refused;
      return reject(480, `no agent answers ${e164}: add it as a phone number with an agent`);
    }
    const scope = { tenantId: number.tenantId };
    // A number is reachable only through the tenant's own carriers: anything else is refused before any handler runs.
    const refused = await this.admit(scope, facts);
    if (refused) return refused;
    if (!number.inboundEnabled) return reject(480, `number ${number.e164} does not take inbound calls`);
    return { scope, agentId: number.agentId, lineId: null, lineHandler: null, phoneNumber: number.e164, trusted: true };
  }

  /**
   * A call to a tenant's number: from the source address of one of its trunks or registrars, or
   * with the digest credentials of one of its trunks; null when admitted.
   */
  private async admit(scope: Scope, facts: InviteFacts): Promise<RouteDecision | null> {
    if (await this.trust.isTrusted(scope, facts.sourceAddress)) return null;
    if (!this.auth) return reject(403, 'calls to this number are taken only from its trunks and registrars');
    const outcome = await this.auth.check(scope, facts.credentials, facts.requestUser);
    if (outcome.kind === 'authenticated') return null;
    if (outcome.kind === 'challenge') return reject(407, 'authenticate with the credentials of one of this number\'s trunks', outcome.headers);
    return reject(403, outcome.reason);
  }

  /** Step 2: the agent may take calls now. */
  private async checkAgent(scope: Scope, agent: Agent): Promise<RouteDecision | null> {
    if (await this.suspended(scope.tenantId)) return reject(403, 'account suspended');
    if (agent.deployStatus !== 'active') return reject(480, `agent ${agent.id} is inactive`);
    return null;
  }

  /**
   * A tenant's suspension, read at most once a second per tenant: every INVITE needs it and it
   * rarely changes, so a suspension takes up to a second to stop new calls.
   */
  private async suspended(tenantId: string): Promise<boolean> {
    const now = this.now();
    const hit = this.tenantStatus.get(tenantId);
    if (hit && now - hit.at < TENANT_STATUS_TTL_MS) return hit.suspended;
    const suspended = (await this.services.tenants.get(tenantId)).status === 'suspended';
    if (this.tenantStatus.size >= 10_000) this.tenantStatus.clear();
    this.tenantStatus.set(tenantId, { at: now, suspended });
    return suspended;
  }

  /** Step 3 (no line): the agent's own handler; a person with addresses otherwise rings them. */
  private async agentHandler(scope: Scope, agent: Agent): Promise<CallHandler> {
    if (agent.handler) return agent.handler;
    const person = await this.services.directory.forCall(scope, agent.id);
    return person.addresses.length ? 'sip' : DEFAULT_CALL_HANDLER;
  }
}
