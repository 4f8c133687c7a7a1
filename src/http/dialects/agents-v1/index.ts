import type { FastifyInstance } from 'fastify';
import type { AppOptions } from '../../context.js';
import { useErrorEnvelope, type Envelope } from '../../errors.js';
import { accessKeyRoutes } from './accesskeys.js';
import { agentRoutes } from './agents.js';
import { loginRoute } from './login.js';
import { meRoute } from './me.js';
import { tagRoutes } from './tags.js';

export const agentsV1Envelope: Envelope = { render: (p) => ({ message: p.message }) };

/** The call-center agents API (VoIPBIN-style) under `/v1.0`, plus `POST /auth/login` (public) and `GET /auth/me`. */
export async function agentsV1Dialect(app: FastifyInstance, opts: AppOptions): Promise<void> {
  useErrorEnvelope(app, agentsV1Envelope);
  await app.register(loginRoute, opts);
  await app.register(meRoute);
  await app.register(async (v1) => {
    await v1.register(agentRoutes, opts);
    await v1.register(tagRoutes, opts);
    await v1.register(accessKeyRoutes, opts);
  }, { prefix: '/v1.0' });
}
