import type { FastifyInstance } from 'fastify';
import type { AppOptions } from './app.js';

/** Per-credential request limits (placeholder until the deployment dialect lands). */
export async function rateLimits(app: FastifyInstance, opts: AppOptions): Promise<void> {
  void app; void opts;
}
