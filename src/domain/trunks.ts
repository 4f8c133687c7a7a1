import type { ServiceDeps } from './deps.js';

export class TrunkService {
  constructor(private readonly deps: ServiceDeps) {}
}
