import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { PLAIN_AGENT_ROUTE } from '../../context.js';
import { actor, replies, schema } from './schemas.js';

const MeReply = Type.Object({
  kind: Type.Union([Type.Literal('platform_admin'), Type.Literal('access_key'), Type.Literal('login')], { description: 'which kind of credential this is' }),
  tenant_id: Type.Union([Type.String(), Type.Null()], { description: 'the tenant it acts for; null for the platform admin without X-Account-ID' }),
  permission: Type.Integer({ description: 'the permission bits it carries (65535 for keys)' }),
  agent_id: Type.Union([Type.String(), Type.Null()], { description: 'login tokens: the agent it acts as' }),
}, { examples: [{ kind: 'login', tenant_id: 'tn_1', permission: 64, agent_id: 'ag_1' }] });

const KIND = { admin: 'platform_admin', access: 'access_key', login: 'login' } as const;

/**
 * `GET /auth/me`: what the presented credential is, so a client (the dashboard) can tell the
 * platform admin from a tenant key or a plain agent without trying requests that fail. Nothing
 * secret: no key, no key id.
 */
export async function meRoute(app: FastifyInstance): Promise<void> {
  app.get('/auth/me', { config: PLAIN_AGENT_ROUTE, schema: schema({ summary: 'The credential presented: its kind, tenant and permission', response: replies(MeReply) }) }, async (req): Promise<Static<typeof MeReply>> => {
    const p = actor(req);
    return { kind: KIND[p.kind], tenant_id: p.tenantId, permission: p.permission, agent_id: p.agentId };
  });
}
