import { randomBytes } from 'node:crypto';
import type { PhoneNumber } from '../../../src/domain/numbers.js';
import type { StoredRegistration } from '../../../src/domain/registrations.js';
import type { StoreHandle } from '../../../src/store/transactions.js';

/** A bare agent row, enough for numbers and registrations to point at. */
export async function insertAgent(store: StoreHandle, id: string, tenantId: string, handler: string | null = null): Promise<void> {
  const now = new Date().toISOString();
  await store.db.insertInto('agents').values({
    id, tenant_id: tenantId, name: `agent ${id}`, detail: '', kind: 'inbound', system_prompt: '', voice: '', language: 'en',
    greeting: '', personality: '', llm_model: null, context_data: '{}', deploy_status: 'active', username: null, password_hash: null,
    presence: 'offline', ring_method: 'ringall', permission: 0, direct_hash: null, handler, total_calls: 0, total_minutes: 0,
    created_at: now, updated_at: now,
  }).execute();
}

let seq = 0;
/** A fresh E.164 number, distinct across the run. */
export const nextE164 = () => `+1555${String(process.pid % 1000).padStart(3, '0')}${String(seq++).padStart(4, '0')}`;

export function phoneNumber(id: string, tenantId: string, createdAt: string, extra: Partial<PhoneNumber> = {}): PhoneNumber {
  return {
    id, tenantId, e164: nextE164(), provider: null, credentialsId: null, agentId: null, inboundEnabled: true, outboundEnabled: true,
    friendlyName: null, carrierSid: null, capabilities: ['voice'], createdAt, updatedAt: createdAt, ...extra,
  };
}

export function registration(id: string, tenantId: string, createdAt: string, extra: Partial<StoredRegistration> = {}): StoredRegistration {
  return {
    id, tenantId, name: null, handler: 'livekit', outbound: false, registrar: `sip:pbx-${randomBytes(3).toString('hex')}.example.com`,
    username: `user-${id}`, sealedPassword: 'sealed', options: {}, status: 'disabled', state: 'initial', error: null,
    listenerAgentId: null, generation: 0, createdAt, updatedAt: createdAt, ...extra,
  };
}
