import type { ServiceDeps } from './deps.js';

export class AnalyticsService {
  constructor(private readonly deps: ServiceDeps) {}
}
