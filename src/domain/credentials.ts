import type { ServiceDeps } from './deps.js';

export class ProviderCredentialService {
  constructor(private readonly deps: ServiceDeps) {}
}
