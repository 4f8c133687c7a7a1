import type { ServiceDeps } from './deps.js';
import { AgentService } from './agents.js';
import { AgentDirectoryService } from './agent-directory.js';
import { AccessKeyDirectory } from './access-keys.js';
import { TagService, type TagRepository } from './tags.js';
import { AnalyticsService, type AnalyticsRepository } from './analytics.js';
import { CallService, type AgentCallTotals, type CallLimits, type CallRepository } from './calls.js';
import { ProviderCredentialService } from './credentials.js';
import { KeyService } from './keys.js';
import { PhoneNumberService } from './numbers.js';
import { RegistrationService } from './registrations.js';
import { TenantService } from './tenants.js';
import { TrunkService } from './trunks.js';

/** The repositories services are built on (the store implements them; tests may fake them). */
export interface ServiceRepositories {
  tags: TagRepository;
  calls: CallRepository;
  analytics: AnalyticsRepository;
  /** Calls need the tenant's concurrent-call limit and the agents' call totals. */
  tenants: CallLimits;
  agents: AgentCallTotals;
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
  const tenants = new TenantService(deps);
  return {
    deps,
    tenants,
    keys: new KeyService(deps),
    agents: new AgentService(deps),
    directory: new AgentDirectoryService(deps),
    tags: new TagService({ tags: deps.repos.tags, uow: deps.uow, clock: deps.clock, ids: deps.ids }),
    accessKeys: new AccessKeyDirectory(deps),
    numbers: new PhoneNumberService(deps),
    credentials: new ProviderCredentialService(deps),
    registrations: new RegistrationService(deps),
    trunks: new TrunkService(deps),
    calls: new CallService({
      calls: deps.repos.calls, limits: deps.repos.tenants, agentTotals: deps.repos.agents, uow: deps.uow, clock: deps.clock, ids: deps.ids,
    }),
    analytics: new AnalyticsService({ analytics: deps.repos.analytics, tenants, clock: deps.clock }),
  };
}
