/**
 * The names Dialtone gives what it provisions in LiveKit, and the called user that picks an
 * agent's dispatch rule. Everything is found again by these names, so they never change.
 */

/** The one inbound trunk of this server. */
export const TRUNK_NAME = 'dialtone';

const RULE_PREFIX = 'dialtone-agent-';

/** Characters that are safe, unescaped, in a SIP URI user part and in a LiveKit room name. */
const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

function requireSafeId(agentId: string): string {
  if (typeof agentId !== 'string' || !SAFE_ID.test(agentId)) {
    throw new Error(`agent id ${JSON.stringify(agentId)} cannot be used in a LiveKit dispatch rule (letters, digits, . _ - only)`);
  }
  return agentId;
}

export function dispatchRuleName(agentId: string): string {
  return RULE_PREFIX + requireSafeId(agentId);
}

/** The agent id a rule of ours belongs to; null for a rule someone else made. */
export function agentIdOfRule(ruleName: string): string | null {
  if (!ruleName.startsWith(RULE_PREFIX)) return null;
  const id = ruleName.slice(RULE_PREFIX.length);
  return SAFE_ID.test(id) ? id : null;
}

/**
 * The user part the edge puts in the Request-URI and in the To header of an INVITE it forwards
 * to LiveKit for this agent. LiveKit takes the called number from the To user and picks the
 * dispatch rule whose `numbers` hold it; see docs/decisions.md.
 */
export function livekitCalledUser(agentId: string): string {
  return `dialtone-${requireSafeId(agentId)}`;
}

/** Individual rooms of an agent are named `<prefix>_<caller>_<random>` by LiveKit. */
export function roomPrefix(agentId: string): string {
  return `dialtone-${requireSafeId(agentId)}`;
}
