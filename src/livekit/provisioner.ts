import { randomBytes } from 'node:crypto';
import {
  RoomAgentDispatch,
  RoomConfiguration,
  SIPDispatchRule,
  SIPDispatchRuleIndividual,
  SIPDispatchRuleInfo,
  SIPInboundTrunkInfo,
  SipClient,
  type CreateSipInboundTrunkOptions,
} from 'livekit-server-sdk';
import type { LiveKitConfig } from '../config.js';
import type { PlatformSecretRepository } from '../domain/platform-secrets.js';
import type { Vault } from '../vault/vault.js';
import { TRUNK_NAME, agentIdOfRule, dispatchRuleName, livekitCalledUser, roomPrefix } from './names.js';

/** What the edge needs to answer LiveKit's 407 for the calls it forwards. */
export interface InboundTrunk {
  trunkId: string;
  username: string;
  password: string;
}

export interface AgentRuleInput {
  agentId: string;
  tenantId: string;
  /** The agent name LiveKit dispatches to the room (the worker registers under it). */
  agentName: string;
  /** The lines (registrations) bound to the agent whose calls go to LiveKit. */
  lineIds: string[];
}

/** The JSON LiveKit hands the dispatched agent (and the caller's participant) as metadata. */
export interface AgentDispatchMetadata {
  agent_id: string;
  tenant_id: string;
  line_ids: string[];
}

const CREDENTIALS_KEY = 'livekit.inbound_trunk';

/**
 * LiveKit's SIP_X_HEADERS: every X-* header of the INVITE becomes a `sip.h.x-*` attribute of the
 * caller's participant, which is how the X-Dialtone-* headers reach the agent. The enum lives in
 * @livekit/protocol, which the SDK does not re-export.
 */
const SIP_X_HEADERS = 1 as NonNullable<CreateSipInboundTrunkOptions['includeHeaders']>;

export interface ProvisionerDeps {
  secrets: PlatformSecretRepository;
  vault: Vault;
  now?: () => Date;
  /** Seconds per LiveKit request. */
  requestTimeoutSeconds?: number;
}

/**
 * Provisions LiveKit SIP for Dialtone through the official SDK: one inbound trunk for this server,
 * with digest credentials generated once and kept sealed in the database, and one dispatch rule
 * per agent. Everything is found by name, so each call is idempotent and a restart (or a second
 * instance on the same database) converges on the same trunk and rules.
 */
export class LiveKitProvisioner {
  private readonly client: SipClient;
  private trunk: Promise<InboundTrunk> | null = null;

  constructor(config: LiveKitConfig, private readonly deps: ProvisionerDeps) {
    // Failover retries other LiveKit Cloud regions; the sync retries on its own schedule.
    this.client = new SipClient(config.url, config.apiKey, config.apiSecret, {
      requestTimeout: deps.requestTimeoutSeconds ?? 10,
      failover: false,
    });
  }

  /** The trunk and its credentials; created on first use, then reused (also across restarts). */
  ensureInboundTrunk(): Promise<InboundTrunk> {
    if (!this.trunk) {
      this.trunk = this.provisionTrunk();
      this.trunk.catch(() => { this.trunk = null; });
    }
    return this.trunk;
  }

  /** Creates or updates the agent's dispatch rule; returns its id. */
  async syncAgent(input: AgentRuleInput): Promise<string> {
    const desired = desiredRule(input, (await this.ensureInboundTrunk()).trunkId);
    const [existing, ...duplicates] = await this.rulesNamed(desired.name);
    // Two instances creating the same rule at once leave two; the survivor is the same for both.
    for (const extra of duplicates) await this.client.deleteSipDispatchRule(extra.sipDispatchRuleId);
    if (existing) {
      if (!sameRule(existing, desired)) {
        await this.client.updateSipDispatchRule(existing.sipDispatchRuleId, withId(desired, existing.sipDispatchRuleId));
      }
      return existing.sipDispatchRuleId;
    }
    // The SDK's create cannot set `numbers` (the called-user filter), so the rule is created on a
    // trunk id that does not exist, where it can match no call, and then replaced whole.
    const created = await this.client.createSipDispatchRule(
      { type: 'individual', roomPrefix: roomPrefix(input.agentId) },
      { name: desired.name, metadata: desired.metadata, trunkIds: [`${desired.name}-pending`], roomConfig: desired.roomConfig },
    );
    await this.client.updateSipDispatchRule(created.sipDispatchRuleId, withId(desired, created.sipDispatchRuleId));
    return created.sipDispatchRuleId;
  }

  /** Deletes the agent's dispatch rule; nothing to do when it has none. */
  async removeAgent(agentId: string): Promise<void> {
    for (const rule of await this.rulesNamed(dispatchRuleName(agentId))) {
      await this.client.deleteSipDispatchRule(rule.sipDispatchRuleId);
    }
  }

  /**
   * The agents that have a rule of ours: named by us and on our trunk (or still pending), so a
   * rule someone else made under a similar name is never taken for ours.
   */
  async agentsWithRules(): Promise<string[]> {
    const { trunkId } = await this.ensureInboundTrunk();
    const ids = new Set<string>();
    for (const rule of await this.client.listSipDispatchRule()) {
      const agentId = agentIdOfRule(rule.name);
      const ours = rule.trunkIds.length > 0 && rule.trunkIds.every((t) => t === trunkId || t === `${rule.name}-pending`);
      if (agentId && ours) ids.add(agentId);
    }
    return [...ids];
  }

  private async rulesNamed(name: string): Promise<SIPDispatchRuleInfo[]> {
    const rules = await this.client.listSipDispatchRule();
    return rules.filter((r) => r.name === name).sort((a, b) => a.sipDispatchRuleId.localeCompare(b.sipDispatchRuleId));
  }

  private async provisionTrunk(): Promise<InboundTrunk> {
    const { username, password } = await this.credentials();
    const trunks = (await this.client.listSipInboundTrunk())
      .filter((t) => t.name === TRUNK_NAME)
      .sort((a, b) => a.sipTrunkId.localeCompare(b.sipTrunkId));
    const [found, ...duplicates] = trunks;
    for (const extra of duplicates) await this.client.deleteSipTrunk(extra.sipTrunkId);
    if (!found) {
      const created = await this.client.createSipInboundTrunk(TRUNK_NAME, [], {
        authUsername: username,
        authPassword: password,
        includeHeaders: SIP_X_HEADERS,
        metadata: JSON.stringify({ managed_by: 'dialtone' }),
      });
      return { trunkId: created.sipTrunkId, username, password };
    }
    // Someone changed it in LiveKit (or an older database made it): our stored credentials win,
    // as the edge answers the 407 with them. Other settings an operator added are kept.
    if (found.authUsername !== username || found.authPassword !== password || found.includeHeaders !== SIP_X_HEADERS) {
      await this.client.updateSipInboundTrunk(found.sipTrunkId, new SIPInboundTrunkInfo({
        ...found, authUsername: username, authPassword: password, includeHeaders: SIP_X_HEADERS,
      }));
    }
    return { trunkId: found.sipTrunkId, username, password };
  }

  /** Generated once for this database and sealed; a second instance adopts the first one's. */
  private async credentials(): Promise<{ username: string; password: string }> {
    let sealed = await this.deps.secrets.get(CREDENTIALS_KEY);
    if (sealed === null) {
      const fresh = { username: `dialtone_${randomBytes(6).toString('hex')}`, password: randomBytes(24).toString('base64url') };
      const at = (this.deps.now?.() ?? new Date()).toISOString();
      sealed = await this.deps.secrets.putIfAbsent(CREDENTIALS_KEY, this.deps.vault.sealJson(fresh), at);
    }
    return this.deps.vault.openJson<{ username: string; password: string }>(sealed);
  }
}

function dispatchMetadata(input: AgentRuleInput): string {
  const metadata: AgentDispatchMetadata = { agent_id: input.agentId, tenant_id: input.tenantId, line_ids: [...input.lineIds].sort() };
  return JSON.stringify(metadata);
}

function desiredRule(input: AgentRuleInput, trunkId: string): SIPDispatchRuleInfo {
  if (typeof input.agentName !== 'string' || input.agentName.trim() === '') throw new Error('a LiveKit agent name must not be empty');
  if (typeof input.tenantId !== 'string' || input.tenantId === '') throw new Error('a tenant id is required');
  const metadata = dispatchMetadata(input);
  return new SIPDispatchRuleInfo({
    name: dispatchRuleName(input.agentId),
    metadata,
    trunkIds: [trunkId],
    numbers: [livekitCalledUser(input.agentId)],
    rule: new SIPDispatchRule({
      rule: { case: 'dispatchRuleIndividual', value: new SIPDispatchRuleIndividual({ roomPrefix: roomPrefix(input.agentId) }) },
    }),
    roomConfig: new RoomConfiguration({ agents: [new RoomAgentDispatch({ agentName: input.agentName, metadata })] }),
  });
}

function withId(rule: SIPDispatchRuleInfo, id: string): SIPDispatchRuleInfo {
  const copy = rule.clone();
  copy.sipDispatchRuleId = id;
  return copy;
}

/** The fields Dialtone sets; anything else on the rule is not ours to compare. */
function sameRule(a: SIPDispatchRuleInfo, b: SIPDispatchRuleInfo): boolean {
  const agents = (r: SIPDispatchRuleInfo) => (r.roomConfig?.agents ?? []).map((d) => [d.agentName, d.metadata]);
  const rule = (r: SIPDispatchRuleInfo) => r.rule?.rule.case === 'dispatchRuleIndividual'
    ? ['individual', r.rule.rule.value.roomPrefix, r.rule.rule.value.pin] : [r.rule?.rule.case];
  return JSON.stringify([a.name, a.metadata, a.trunkIds, a.numbers, a.inboundNumbers, rule(a), agents(a)])
    === JSON.stringify([b.name, b.metadata, b.trunkIds, b.numbers, b.inboundNumbers, rule(b), agents(b)]);
}
