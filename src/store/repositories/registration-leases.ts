import { randomUUID } from 'node:crypto';
import type { LeasePort } from '../../registration/lease.js';
import type { StoreHandle } from '../transactions.js';

/** Ids per statement, well under either engine's limit on bound parameters. */
const CHUNK = 500;

/**
 * The lease columns of `registrations` (`lease_owner`, `lease_expires_at`): which instance
 * registers which line when several Dialtone processes share one database. A lease is claimed
 * with a conditional UPDATE, renewed while the instance lives, and taken over by another
 * instance once it has run out.
 */
export class SqlRegistrationLeases implements LeasePort {
  readonly owner: string;

  constructor(private readonly store: StoreHandle, private readonly ttlMs: number, private readonly now: () => Date = () => new Date(), owner?: string) {
    this.owner = owner ?? `dialtone-${randomUUID()}`;
  }

  private expiry(): string {
    return new Date(this.now().getTime() + this.ttlMs).toISOString();
  }

  async claim(id: string): Promise<boolean> {
    const nowIso = this.now().toISOString();
    const res = await this.store.db.updateTable('registrations')
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
    for (let i = 0; i < ids.length; i += CHUNK) {
      const chunk = ids.slice(i, i + CHUNK);
      await this.store.db.updateTable('registrations').set({ lease_expires_at: this.expiry() })
        .where('lease_owner', '=', this.owner).where('id', 'in', chunk).execute();
      const rows = await this.store.db.selectFrom('registrations').select('id')
        .where('lease_owner', '=', this.owner).where('id', 'in', chunk).execute();
      for (const r of rows) held.add(r.id);
    }
    return held;
  }

  async unclaimed(): Promise<string[]> {
    const rows = await this.store.db.selectFrom('registrations').select('id')
      .where('status', '=', 'active')
      .where((eb) => eb.or([eb('lease_owner', 'is', null), eb('lease_expires_at', '<', this.now().toISOString())]))
      .orderBy('created_at').orderBy('id')
      .execute();
    return rows.map((r) => r.id);
  }

  async activeCount(): Promise<number> {
    const { n } = await this.store.db.selectFrom('registrations').select((eb) => eb.fn.countAll<number>().as('n'))
      .where('status', '=', 'active').executeTakeFirstOrThrow();
    return Number(n);
  }

  async release(ids: string[]): Promise<void> {
    for (let i = 0; i < ids.length; i += CHUNK) {
      await this.store.db.updateTable('registrations').set({ lease_owner: null, lease_expires_at: null })
        .where('lease_owner', '=', this.owner).where('id', 'in', ids.slice(i, i + CHUNK)).execute();
    }
  }
}
