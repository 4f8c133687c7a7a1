import type { ServiceDeps } from './deps.js';

export class RegistrationService {
  constructor(private readonly deps: ServiceDeps) {}
}
