import { sql } from 'kysely';
import { LIVE_STATUSES } from '../../domain/calls.js';
import type { StoreHandle } from '../transactions.js';

/**
 * What /metrics and /readyz ask of the database. Deliberately across all tenants: these are the
 * platform operator's numbers, answered only to the metrics token, and they carry counts, never
 * a tenant's data.
 */
export class SqlOpsCounts {
  constructor(private readonly store: StoreHandle) {}

  /** Answers when the database does; throws otherwise. */
  async ping(): Promise<void> {
    await sql`select 1`.execute(this.store.db);
  }

  async linesByState(): Promise<{ status: string; state: string; n: number }[]> {
    const rows = await this.store.db.selectFrom('registrations')
      .select(['status', 'state', (eb) => eb.fn.countAll<number>().as('n')])
      .groupBy(['status', 'state']).execute();
    return rows.map((r) => ({ status: r.status, state: r.state, n: Number(r.n) }));
  }

  async liveCallsByRoute(): Promise<{ direction: string; handler: string | null; n: number }[]> {
    const rows = await this.store.db.selectFrom('calls')
      .select(['direction', 'handler', (eb) => eb.fn.countAll<number>().as('n')])
      .where('status', 'in', LIVE_STATUSES)
      .groupBy(['direction', 'handler']).execute();
    return rows.map((r) => ({ direction: r.direction, handler: r.handler, n: Number(r.n) }));
  }
}
