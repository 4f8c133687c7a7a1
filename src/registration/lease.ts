/**
 * Which instance registers which line when several Dialtone processes share one database: a
 * row-level lease (`lease_owner`, `lease_expires_at`) claimed with a conditional UPDATE, renewed
 * while the instance lives, and taken over by another instance once it has run out.
 */
import { randomUUID } from 'node:crypto';
import type { Db } from '../store/db.js';

export interface LeasePort {
  /** This instance's name in `lease_owner`. */
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
}

export class DbLeases implements LeasePort {
  readonly owner: string;

  constructor(private readonly db: Db, private readonly ttlMs: number, private readonly now: () => Date = () => new Date(), owner?: string) {
    this.owner = owner ?? `dialtone-${randomUUID()}`;
  }

  private expiry(): string {
    return new Date(this.now().getTime() + this.ttlMs).toISOString();
  }

  async claim(id: string): Promise<boolean> {
    const nowIso = this.now().toISOString();
    const res = await this.db.updateTable('registrations')
      .set({ lease_owner: this.owner, lease_expires_at: this.expiry() })
      .where('id', '=', id)
      .where((eb) => eb.or([
        eb('lease_owner', 'is', null),
        eb('lease_owner', '=', this.owner),
        eb('lease_expires_at', '<', nowIso),
      ]))
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  async renew(ids: string[]): Promise<Set<string>> {
    const held = new Set<string>();
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500);
      await this.db.updateTable('registrations').set({ lease_expires_at: this.expiry() })
        .where('lease_owner', '=', this.owner).where('id', 'in', chunk).execute();
      const rows = await this.db.selectFrom('registrations').select('id')
        .where('lease_owner', '=', this.owner).where('id', 'in', chunk).execute();
      for (const r of rows) held.add(r.id);
    }
    return held;
  }

  async unclaimed(): Promise<string[]> {
    const rows = await this.db.selectFrom('registrations').select('id')
      .where('status', '=', 'active')
      .where((eb) => eb.or([eb('lease_owner', 'is', null), eb('lease_expires_at', '<', this.now().toISOString())]))
      .orderBy('created_at').orderBy('id')
      .execute();
    return rows.map((r) => r.id);
  }

  async release(ids: string[]): Promise<void> {
    for (let i = 0; i < ids.length; i += 500) {
      await this.db.updateTable('registrations').set({ lease_owner: null, lease_expires_at: null })
        .where('lease_owner', '=', this.owner).where('id', 'in', ids.slice(i, i + 500)).execute();
    }
  }
}
