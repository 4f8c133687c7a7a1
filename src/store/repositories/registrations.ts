import type { Scope } from '../../domain/principal.js';
import type { Tx } from '../../domain/unit-of-work.js';
import { on, type StoreHandle } from '../transactions.js';

/** The `registrations` table. */
export class SqlRegistrationRepository {
  constructor(private readonly store: StoreHandle) {}

  // On behalf of agents (identity area).
  async releaseListener(tx: Tx, scope: Scope, agentId: string): Promise<void> {
    await on(this.store, tx).updateTable('registrations').set({ listener_agent_id: null })
      .where('tenant_id', '=', scope.tenantId).where('listener_agent_id', '=', agentId).execute();
  }
}
