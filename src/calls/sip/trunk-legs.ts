/**
 * Calls through a tenant's SIP trunk: the INVITE goes to the trunk's address with a caller ID
 * from its numbers and the trunk's digest credentials for 401/407; calls per second are paced
 * per trunk by a token bucket (Twilio's default is 1 CPS, so is ours).
 */
import type { Scope } from '../../domain/principal.js';
import type { Services } from '../../domain/services.js';
import { parseTrunkAddress } from '../../domain/sip-addresses.js';
import type { Trunk } from '../../domain/trunks.js';
import type { Leg } from './ringing.js';

/** The trunk `trunkId` (or the tenant's newest one), as a leg to `toE164`; null when the tenant has none. */
export async function trunkLeg(
  services: Services, scope: Scope, trunkId: string | null, toE164: string, headers: Record<string, string>, fromE164?: string,
): Promise<{ leg: Leg; trunk: Trunk } | null> {
  const trunk = trunkId ? await services.trunks.get(scope, trunkId) : (await services.trunks.list(scope))[0];
  if (!trunk) return null;
  const target = parseTrunkAddress(trunk.address);
  if (!target) return null;
  const hostPort = `${target.host}${target.port ? `:${target.port}` : ''}`;
  const from = fromE164 && trunk.numbers.includes(fromE164) ? fromE164 : trunk.numbers[0]!;
  const credentials = await services.trunks.getCredentials(scope, trunk.id);
  return {
    trunk,
    leg: {
      label: `trunk ${trunk.name}`,
      uri: `sip:${toE164}@${hostPort}`,
      to: `<sip:${toE164}@${hostPort}>`,
      from: `<sip:${from}@${hostPort}>`,
      credentials,
      headers: { ...headers, 'P-Asserted-Identity': `<sip:${from}@${hostPort}>` },
    },
  };
}

/**
 * One token bucket per trunk: `rate` calls a second, bursts of one. A call waits for its token
 * (as carriers queue over-rate calls) up to `maxWaitMs`, then is refused.
 */
export class TrunkPacer {
  private readonly next = new Map<string, number>();

  constructor(private readonly rate: number, private readonly maxWaitMs = 10_000, private readonly now: () => number = Date.now) {}

  /** Resolves when the call may be sent; false when it would wait longer than allowed. */
  async take(trunkId: string): Promise<boolean> {
    if (this.rate <= 0) return true;
    const interval = 1000 / this.rate;
    const t = this.now();
    const at = Math.max(t, this.next.get(trunkId) ?? 0);
    if (at - t > this.maxWaitMs) return false;
    this.next.set(trunkId, at + interval);
    if (this.next.size > 10_000) this.prune(t);
    if (at > t) await new Promise((r) => setTimeout(r, at - t));
    return true;
  }

  private prune(t: number): void {
    for (const [id, at] of this.next) if (at <= t) this.next.delete(id);
  }
}
