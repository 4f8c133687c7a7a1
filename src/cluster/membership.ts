import type { Logger } from 'pino';

/** Where instances announce they are alive (the `instances` table). */
export interface InstanceRegistry {
  renew(id: string, startedAt: string, expiresAt: string): Promise<void>;
  remove(id: string): Promise<void>;
  /** Ids of the instances whose rows have not expired at `now`, sorted. */
  live(now: string): Promise<string[]>;
  /** Drops rows that expired before `before` (long gone; kept a while so their calls are found). */
  forgetExpired(before: string): Promise<void>;
}

export interface MembershipDeps {
  registry: InstanceRegistry;
  /** Ends the live calls of instances that are gone; returns their sids. */
  endOrphanedCalls(reason: string, now: string): Promise<string[]>;
  instanceId: string;
  leaseMs: number;
  logger: Logger;
  now?: () => Date;
}

/** Why a call whose instance died was ended. */
export const INSTANCE_LOST = 'instance_lost';

export interface Membership {
  /** The live instances as of the last round (this one included once it has renewed). */
  live(): string[];
  /** Runs one round now: renew, then sweep (tests, and the first round at start). */
  tick(): Promise<void>;
  /** Stops renewing and removes this instance's row: its calls were ended by the caller first. */
  stop(): Promise<void>;
}

/**
 * A lease per instance: renewed every quarter lease, so a live instance's row never expires
 * between renewals even with a slow round; each round also ends the calls of instances whose
 * rows did expire. A dead instance's calls are therefore ended at most 1¼ lease after its last
 * renewal.
 */
export async function startMembership(deps: MembershipDeps): Promise<Membership> {
  const now = deps.now ?? (() => new Date());
  const startedAt = now().toISOString();
  let live: string[] = [];
  let stopped = false;
  let running: Promise<void> | null = null;

  const round = async () => {
    const at = now();
    await deps.registry.renew(deps.instanceId, startedAt, new Date(at.getTime() + deps.leaseMs).toISOString());
    live = await deps.registry.live(at.toISOString());
    const ended = await deps.endOrphanedCalls(INSTANCE_LOST, at.toISOString());
    if (ended.length) deps.logger.warn({ calls: ended.length }, 'ended the calls of an instance that is gone');
    // An hour past expiry no live call can still name it (they were all ended above).
    await deps.registry.forgetExpired(new Date(at.getTime() - 3_600_000).toISOString());
  };
  const tick = (): Promise<void> => {
    running ??= round().catch((err: Error) => { deps.logger.warn({ err: err.message }, 'instance lease round failed'); })
      .finally(() => { running = null; });
    return running;
  };

  await tick();
  const timer = setInterval(() => { if (!stopped) void tick(); }, Math.max(50, Math.floor(deps.leaseMs / 4)));
  timer.unref();
  return {
    live: () => live,
    tick,
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      await running;
      await deps.registry.remove(deps.instanceId).catch(() => undefined);
    },
  };
}
