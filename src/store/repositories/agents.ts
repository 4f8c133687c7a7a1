import { sql } from 'kysely';
import type { Scope } from '../../domain/principal.js';
import type { Tx } from '../../domain/unit-of-work.js';
import { on, type StoreHandle } from '../transactions.js';

/** The `agents` table with its `agent_addresses` and `agent_tags`. */
export class SqlAgentRepository {
  constructor(private readonly store: StoreHandle) {}

  /** Adds to the agent's running totals: `calls` more calls and `seconds` more talk time. */
  async addCallTotals(tx: Tx, scope: Scope, agentId: string, totals: { calls: number; seconds: number }): Promise<void> {
    await on(this.store, tx).updateTable('agents')
      .set({ total_calls: sql`total_calls + ${totals.calls}`, total_minutes: sql`total_minutes + ${totals.seconds / 60}` })
      .where('tenant_id', '=', scope.tenantId).where('id', '=', agentId).execute();
  }
}
