import type { FastifyInstance } from 'fastify';
import type { AppOptions } from '../../app.js';

export async function phoneNumberRoutes(app: FastifyInstance, opts: AppOptions): Promise<void> {
  void app; void opts;
}
