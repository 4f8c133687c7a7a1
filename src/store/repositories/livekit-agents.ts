import type { LiveKitAgentSource, LiveKitAgentView } from '../../livekit/sync.js';
import type { StoreHandle } from '../transactions.js';

/**
 * What the LiveKit sync reads: an agent with the active lines it listens on. Read-only; the
 * agents and registrations repositories stay the writers of those tables.
 */
export class SqlLiveKitAgentSource implements LiveKitAgentSource {
  constructor(private readonly store: StoreHandle) {}

  async agent(tenantId: string, agentId: string): Promise<LiveKitAgentView | null> {
    const agent = await this.store.db.selectFrom('agents').select(['id', 'tenant_id', 'name', 'handler'])
      .where('tenant_id', '=', tenantId).where('id', '=', agentId).executeTakeFirst();
    if (!agent) return null;
    const lines = await this.store.db.selectFrom('registrations').select(['id', 'handler'])
      .where('tenant_id', '=', tenantId).where('listener_agent_id', '=', agentId).where('status', '=', 'active')
      .orderBy('id').execute();
    return { id: agent.id, tenantId: agent.tenant_id, name: agent.name, handler: agent.handler, lines };
  }

  async lineListener(tenantId: string, lineId: string): Promise<string | null> {
    const row = await this.store.db.selectFrom('registrations').select('listener_agent_id')
      .where('tenant_id', '=', tenantId).where('id', '=', lineId).executeTakeFirst();
    return row?.listener_agent_id ?? null;
  }

  async allAgents(): Promise<Array<{ tenantId: string; agentId: string }>> {
    const rows = await this.store.db.selectFrom('agents').select(['tenant_id', 'id']).orderBy('tenant_id').orderBy('id').execute();
    return rows.map((r) => ({ tenantId: r.tenant_id, agentId: r.id }));
  }
}
