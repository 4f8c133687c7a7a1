import type { ServiceDeps } from './deps.js';

export class PhoneNumberService {
  constructor(private readonly deps: ServiceDeps) {}
}
