import type { ServiceDeps } from './deps.js';
import { AgentService } from './agents.js';
import { AgentDirectoryService } from './agent-directory.js';
import { AccessKeyDirectory } from './access-keys.js';
import { TagService, type TagRepository } from './tags.js';
import { AnalyticsService } from './analytics.js';
import { CallService } from './calls.js';
import { ProviderCredentialService, type ProviderCredentialRepository } from './credentials.js';
import { KeyService } from './keys.js';
import { PhoneNumberService, type PhoneNumberRepository } from './numbers.js';
import { RegistrationService, type NumberEndpointReader, type RegistrationRepository } from './registrations.js';
import { TenantService } from './tenants.js';
import { TrunkService, type TrunkRepository } from './trunks.js';

/** The repositories services are built on (the store implements them; tests may fake them). */
export interface ServiceRepositories {
  tags: TagRepository;
  phoneNumbers: PhoneNumberRepository & NumberEndpointReader;
  registrations: RegistrationRepository;
  trunks: TrunkRepository;
  providerCredentials: ProviderCredentialRepository;
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
  const { repos, uow, clock, ids, vault, config } = deps;
  const numbers = new PhoneNumberService({ numbers: repos.phoneNumbers, credentials: repos.providerCredentials, uow, clock, ids });
  return {
    deps,
    tenants: new TenantService(deps),
    keys: new KeyService(deps),
    agents: new AgentService(deps),
    directory: new AgentDirectoryService(deps),
    tags: new TagService({ tags: deps.repos.tags, uow: deps.uow, clock: deps.clock, ids: deps.ids }),
    accessKeys: new AccessKeyDirectory(deps),
    numbers,
    credentials: new ProviderCredentialService({ credentials: repos.providerCredentials, vault, uow, clock, ids }),
    registrations: new RegistrationService({
      registrations: repos.registrations, numberEndpoints: repos.phoneNumbers, numbers: repos.phoneNumbers, numberService: numbers,
      vault, uow, clock, ids, config,
    }),
    trunks: new TrunkService({ trunks: repos.trunks, vault, uow, clock, ids, config }),
    calls: new CallService(deps),
    analytics: new AnalyticsService(deps),
  };
}
