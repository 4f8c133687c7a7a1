import type { FastifyInstance } from 'fastify';
import type { AppOptions } from '../../context.js';
import { useErrorEnvelope, type Envelope } from '../../errors.js';
import { phoneNumberRoutes } from './phone-numbers.js';
import { callRoutes } from './calls.js';
import { supervisorRoutes } from './supervisor.js';
import { eventsSocket } from './events-ws.js';
import { agentRoutes } from './agents.js';
import { tenantRoutes } from './tenants.js';

/** The document's status table has no 412 or 502, so those kinds land on its nearest rows. */
export const deploymentEnvelope: Envelope = {
  render: (p) => ({ error: p.code, message: p.message }),
  overrides: { precondition: 409, upstream: 503, limit: 403 },
};

/** The deployment API (agents, tenants, numbers, calls, supervisor controls, analytics, events). */
export async function deploymentDialect(app: FastifyInstance, opts: AppOptions): Promise<void> {
  // Installed before the sub-plugins register: each child context inherits this handler.
  useErrorEnvelope(app, deploymentEnvelope);
  await app.register(agentRoutes, opts);
  await app.register(tenantRoutes, opts);
  await app.register(phoneNumberRoutes, opts);
  await app.register(callRoutes, opts);
  await app.register(supervisorRoutes, opts);
  await app.register(eventsSocket, opts);
}
