import type { StoreHandle } from '../transactions.js';
import { SqlAgentRepository } from './agents.js';
import { SqlAnalyticsRepository } from './analytics.js';
import { SqlApiKeyRepository } from './api-keys.js';
import { SqlCallRepository } from './calls.js';
import { SqlLiveKitAgentSource } from './livekit-agents.js';
import { SqlPhoneNumberRepository } from './phone-numbers.js';
import { SqlPlatformSecretRepository } from './platform-secrets.js';
import { SqlProviderCredentialRepository } from './provider-credentials.js';
import { SqlRegistrationLeases } from './registration-leases.js';
import { SqlRegistrationRepository } from './registrations.js';
import { SqlTagRepository } from './tags.js';
import { SqlTenantRepository } from './tenants.js';
import { SqlTrunkRepository } from './trunks.js';
import { SqlOpsCounts } from './ops-counts.js';
import { SqlInstances } from './instances.js';

/** One repository per table (or aggregate), all on the same store. */
export function createRepositories(store: StoreHandle) {
  return {
    tenants: new SqlTenantRepository(store),
    apiKeys: new SqlApiKeyRepository(store),
    agents: new SqlAgentRepository(store),
    tags: new SqlTagRepository(store),
    phoneNumbers: new SqlPhoneNumberRepository(store),
    registrations: new SqlRegistrationRepository(store),
    trunks: new SqlTrunkRepository(store),
    providerCredentials: new SqlProviderCredentialRepository(store),
    calls: new SqlCallRepository(store),
    analytics: new SqlAnalyticsRepository(store),
    platformSecrets: new SqlPlatformSecretRepository(store),
    livekitAgents: new SqlLiveKitAgentSource(store),
    opsCounts: new SqlOpsCounts(store),
    instances: new SqlInstances(store),
    /** Lease keepers for the registration engine, one per instance. */
    registrationLeases: (owner: string | undefined, ttlMs: number) => new SqlRegistrationLeases(store, ttlMs, undefined, owner),
  };
}

export type SqlRepositories = ReturnType<typeof createRepositories>;
