/**
 * Which instance registers which line when several Dialtone processes share one database. The
 * store implements this port with a row-level lease on each registration; the engine only
 * claims, renews and releases through it.
 */
export interface LeasePort {
  /** This instance's name as lease holder. */
  readonly owner: string;
  /** Claims the lease if free, expired or already ours; true when we hold it now. */
  claim(id: string): Promise<boolean>;
  /** Extends our leases; returns the ids we still hold. */
  renew(ids: string[]): Promise<Set<string>>;
  release(ids: string[]): Promise<void>;
  /**
   * Active lines nobody holds: never leased, released, or run out (their holder went away). Only
   * ids, so a lease round at 10,000 lines does not load every registration row again.
   */
  unclaimed(): Promise<string[]>;
  /** How many lines are active in all (held or not): what the instances share out. */
  activeCount(): Promise<number>;
}

/** Builds the lease keeper for this instance: `owner` names it, a lease lasts `ttlMs`. */
export type LeaseFactory = (owner: string | undefined, ttlMs: number) => LeasePort;
