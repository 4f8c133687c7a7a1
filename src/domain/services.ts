import type { ServiceDeps } from './deps.js';
import { AgentService, type AgentListeners, type AgentNumbers, type AgentRepository } from './agents.js';
import { AgentDirectoryService, type AgentDirectoryRepository } from './agent-directory.js';
import { AccessKeyDirectory } from './access-keys.js';
import { TagService, type TagRepository } from './tags.js';
import { AnalyticsService } from './analytics.js';
import { CallService } from './calls.js';
import { ProviderCredentialService } from './credentials.js';
import { AuthCache, KeyService, type ApiKeyRepository } from './keys.js';
import { PhoneNumberService } from './numbers.js';
import { RegistrationService } from './registrations.js';
import { KnownTenants, TenantService, type TenantRepository } from './tenants.js';
import { TrunkService } from './trunks.js';

/** The repositories services are built on (the store implements them; tests may fake them). */
export interface ServiceRepositories {
  tags: TagRepository;
  tenants: TenantRepository;
  apiKeys: ApiKeyRepository;
  agents: AgentRepository & AgentDirectoryRepository;
  phoneNumbers: AgentNumbers;
  registrations: AgentListeners;
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
}

export function createServices(deps: ServiceDeps): Services {
  const { repos, uow, clock, ids } = deps;
  const tags = new TagService({ tags: deps.repos.tags, uow: deps.uow, clock: deps.clock, ids: deps.ids });
  const tenants = new TenantService({ tenants: repos.tenants, known: new KnownTenants(), uow, clock, ids });
  const keys = new KeyService({ keys: repos.apiKeys, authCache: new AuthCache(), clock, ids });
  const agents = new AgentService({
    agents: repos.agents, limits: repos.tenants, numbers: repos.phoneNumbers, listeners: repos.registrations,
    tokens: repos.apiKeys, uow, clock, ids,
  });
  return {
    deps,
    tenants,
    keys,
    agents,
    directory: new AgentDirectoryService({
      agents, keys, tags, directory: repos.agents, limits: repos.tenants, uow, clock, ids, sipDomain: deps.config.sip.domain,
    }),
    tags,
    accessKeys: new AccessKeyDirectory({ keys, clock }),
    numbers: new PhoneNumberService(deps),
    credentials: new ProviderCredentialService(deps),
    registrations: new RegistrationService(deps),
    trunks: new TrunkService(deps),
    calls: new CallService(deps),
    analytics: new AnalyticsService(deps),
  };
}
