import type { ServiceDeps } from './deps.js';

export class CallService {
  constructor(private readonly deps: ServiceDeps) {}
}
