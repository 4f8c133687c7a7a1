import type { FastifyInstance } from 'fastify';
import type { AppOptions } from '../../app.js';
import { phoneNumberRoutes } from './phone-numbers.js';
import { callRoutes } from './calls.js';
import { supervisorRoutes } from './supervisor.js';
import { eventsSocket } from './events-ws.js';

/** The deployment API (agents, tenants, numbers, calls, supervisor controls, analytics, events). */
export async function deploymentDialect(app: FastifyInstance, opts: AppOptions): Promise<void> {
  await app.register(phoneNumberRoutes, opts);
  await app.register(callRoutes, opts);
  await app.register(supervisorRoutes, opts);
  await app.register(eventsSocket, opts);
}
