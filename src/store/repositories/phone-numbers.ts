import type { Scope } from '../../domain/principal.js';
import type { Tx } from '../../domain/unit-of-work.js';
import { on, type StoreHandle } from '../transactions.js';

/** The `phone_numbers` table: its only writer. */
export class SqlPhoneNumberRepository {
  constructor(private readonly store: StoreHandle) {}

  // On behalf of agents (identity area).
  async releaseAgent(tx: Tx, scope: Scope, agentId: string): Promise<void> {
    await on(this.store, tx).updateTable('phone_numbers').set({ agent_id: null })
      .where('tenant_id', '=', scope.tenantId).where('agent_id', '=', agentId).execute();
  }

  /** Agent id → the first number linked to it (oldest), for many agents in one query. */
  async primaryNumbers(agents: Array<{ id: string; tenantId: string }>): Promise<Map<string, string>> {
    const result = new Map<string, string>();
    if (agents.length === 0) return result;
    const rows = await this.store.db.selectFrom('phone_numbers').select(['agent_id', 'e164'])
      .where('tenant_id', 'in', [...new Set(agents.map((a) => a.tenantId))]).where('agent_id', 'in', agents.map((a) => a.id))
      .orderBy('created_at', 'desc').execute();
    // Newest first, so the oldest number per agent is written last and wins.
    for (const r of rows) if (r.agent_id) result.set(r.agent_id, r.e164);
    return result;
  }

  async primaryNumber(scope: Scope, agentId: string): Promise<string | null> {
    const row = await this.store.db.selectFrom('phone_numbers').select('e164')
      .where('tenant_id', '=', scope.tenantId).where('agent_id', '=', agentId).orderBy('created_at').limit(1).executeTakeFirst();
    return row?.e164 ?? null;
  }
}
