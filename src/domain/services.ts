import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Vault } from '../vault/vault.js';
import type { WallClock, IdSource } from './ids.js';
import type { UnitOfWork } from './unit-of-work.js';
import { AgentService, type AgentListeners, type AgentNumbers, type AgentRepository } from './agents.js';
import { AgentDirectoryService, type AgentDirectoryRepository } from './agent-directory.js';
import { AccessKeyDirectory } from './access-keys.js';
import { TagService, type TagRepository } from './tags.js';
import { AnalyticsService, type AnalyticsRepository } from './analytics.js';
import { CallService, type AgentCallTotals, type CallLimits, type CallRepository } from './calls.js';
import { ProviderCredentialService, type ProviderCredentialRepository } from './credentials.js';
import { AuthCache, KeyService, type ApiKeyRepository } from './keys.js';
import { PhoneNumberService, type PhoneNumberRepository } from './numbers.js';
import { TenantRemoval } from './tenant-removal.js';
import { RegistrationService, type NumberEndpointReader, type RegistrationRepository } from './registrations.js';
import { KnownTenants, TenantService, type TenantRepository } from './tenants.js';
import { TrunkService, type TrunkRepository } from './trunks.js';

/** The repositories services are built on (the store implements them; tests may fake them). */
export interface ServiceRepositories {
  tags: TagRepository;
  calls: CallRepository;
  analytics: AnalyticsRepository;
  tenants: TenantRepository & CallLimits;
  apiKeys: ApiKeyRepository;
  agents: AgentRepository & AgentDirectoryRepository & AgentCallTotals;
  phoneNumbers: PhoneNumberRepository & NumberEndpointReader & AgentNumbers;
  registrations: RegistrationRepository & AgentListeners;
  trunks: TrunkRepository;
  providerCredentials: ProviderCredentialRepository;
}

/** What services are built from; the composition root makes one and tests make their own. */
export interface ServiceDeps {
  repos: ServiceRepositories;
  uow: UnitOfWork;
  vault: Vault;
  clock: WallClock;
  ids: IdSource;
  config: Config;
  logger: Logger;
  /** The process's key cache; given by the composition root when drops must reach other instances. */
  authCache?: AuthCache;
}

/** Every domain service, built over the same deps; dialects and runtimes receive this. */
export interface Services {
  deps: ServiceDeps;
  tenants: TenantService;
  keys: KeyService;
  agents: AgentService;
  directory: AgentDirectoryService;
  tags: TagService;
  accessKeys: AccessKeyDirectory;
  numbers: PhoneNumberService;
  credentials: ProviderCredentialService;
  registrations: RegistrationService;
  trunks: TrunkService;
  calls: CallService;
  analytics: AnalyticsService;
  tenantRemoval: TenantRemoval;
}

export function createServices(deps: ServiceDeps): Services {
  const { repos, uow, clock, ids, vault, config } = deps;
  const tags = new TagService({ tags: repos.tags, uow, clock, ids });
  const known = new KnownTenants();
  const tenants = new TenantService({ tenants: repos.tenants, known, uow, clock, ids });
  const keys = new KeyService({ keys: repos.apiKeys, authCache: deps.authCache ?? new AuthCache(), clock, ids });
  const agents = new AgentService({
    agents: repos.agents, limits: repos.tenants, numbers: repos.phoneNumbers, listeners: repos.registrations,
    tokens: repos.apiKeys, uow, clock, ids,
  });
  const numbers = new PhoneNumberService({ numbers: repos.phoneNumbers, credentials: repos.providerCredentials, uow, clock, ids });
  const registrations = new RegistrationService({
    registrations: repos.registrations, numberEndpoints: repos.phoneNumbers, numbers: repos.phoneNumbers, numberService: numbers,
    vault, uow, clock, ids, config,
  });
  const calls = new CallService({ calls: repos.calls, limits: repos.tenants, agentTotals: repos.agents, uow, clock, ids, instanceId: config.instanceId });
  return {
    deps,
    tenants,
    keys,
    agents,
    directory: new AgentDirectoryService({
      agents, keys, tags, directory: repos.agents, limits: repos.tenants, uow, clock, ids, sipDomain: config.sip.domain,
    }),
    tags,
    accessKeys: new AccessKeyDirectory({ keys, clock }),
    numbers,
    credentials: new ProviderCredentialService({ credentials: repos.providerCredentials, vault, uow, clock, ids }),
    registrations,
    trunks: new TrunkService({ trunks: repos.trunks, vault, uow, clock, ids, config }),
    calls,
    analytics: new AnalyticsService({ analytics: repos.analytics, tenants, clock }),
    tenantRemoval: new TenantRemoval({ tenants: repos.tenants, known, keys, lines: registrations, calls, uow, clock }),
  };
}
