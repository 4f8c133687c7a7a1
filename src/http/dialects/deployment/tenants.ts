import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { AppOptions } from '../../context.js';
import { errors } from './schemas.js';
import { LIMIT_RANGE, TENANT_STATUSES, type Tenant, type TenantStatus } from '../../../domain/tenants.js';

const Status = Type.Unsafe<TenantStatus>({ type: 'string', enum: [...TENANT_STATUSES] });
const Limit = Type.Integer({ minimum: LIMIT_RANGE.min, maximum: LIMIT_RANGE.max });
const Name = Type.String({ minLength: 1, maxLength: 200 });
const Email = Type.String({ format: 'email', maxLength: 254 });

const CreateBody = Type.Object({
  name: Name,
  // The label rule itself is the service's, whose message says what is allowed.
  subdomain: Type.Optional(Type.String({ minLength: 1, maxLength: 63, description: 'a lowercase DNS label: a-z, 0-9 and inner hyphens' })),
  max_agents: Type.Optional(Limit),
  max_concurrent_calls: Type.Optional(Limit),
  billing_email: Type.Optional(Email),
}, { additionalProperties: false, examples: [{ name: 'Acme', subdomain: 'acme' }] });
type CreateBody = Static<typeof CreateBody>;

const PatchBody = Type.Object({
  name: Type.Optional(Name),
  max_agents: Type.Optional(Limit),
  max_concurrent_calls: Type.Optional(Limit),
  billing_email: Type.Optional(Type.Unsafe<string | null>({ type: ['string', 'null'], format: 'email', maxLength: 254 })),
  status: Type.Optional(Status),
}, { additionalProperties: false });
type PatchBody = Static<typeof PatchBody>;

const TenantParams = Type.Object({ tenant_id: Type.String({ minLength: 1, maxLength: 100 }) });

const TenantView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  subdomain: Type.Union([Type.String(), Type.Null()]),
  status: Status,
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
  limits: Type.Object({ max_agents: Type.Integer(), max_concurrent_calls: Type.Integer() }),
  billing_email: Type.Union([Type.String(), Type.Null()]),
});

function view(t: Tenant): Static<typeof TenantView> {
  return {
    id: t.id,
    name: t.name,
    subdomain: t.subdomain,
    status: t.status,
    created_at: t.createdAt,
    updated_at: t.updatedAt,
    limits: { max_agents: t.limits.maxAgents, max_concurrent_calls: t.limits.maxConcurrentCalls },
    billing_email: t.billingEmail,
  };
}


const tags = ['deployment: tenants'];

/** `/tenants`: the platform admin manages tenants; a tenant key may read and rename its own. */
export async function tenantRoutes(plain: FastifyInstance, opts: AppOptions): Promise<void> {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();
  const { services } = opts;

  app.post('/tenants', {
    schema: { tags, summary: 'Create a tenant (platform admin)', body: CreateBody, response: { 201: TenantView, ...errors } },
  }, async (req, reply) => {
    const b: CreateBody = req.body;
    const tenant = await services.tenants.createFor(req.principal!, {
      name: b.name, subdomain: b.subdomain, maxAgents: b.max_agents, maxConcurrentCalls: b.max_concurrent_calls, billingEmail: b.billing_email,
    });
    return reply.status(201).send(view(tenant));
  });

  app.get('/tenants', {
    schema: { tags, summary: 'List tenants (platform admin)', response: { 200: Type.Array(TenantView), ...errors } },
  }, async (req) => (await services.tenants.listFor(req.principal!)).map(view));

  app.get('/tenants/:tenant_id', {
    schema: { tags, summary: 'Get a tenant', params: TenantParams, response: { 200: TenantView, ...errors } },
  }, async (req) => view(await services.tenants.getFor(req.principal!, req.params.tenant_id)));

  app.delete('/tenants/:tenant_id', {
    schema: { tags, summary: 'Delete a tenant and all its data (platform admin; 409 while it has live calls)', params: TenantParams, response: { 200: Type.Object({ message: Type.String() }), ...errors } },
  }, async (req) => {
    await services.tenantRemoval.delete(req.principal!, req.params.tenant_id);
    return { message: 'Tenant deleted successfully' };
  });

  app.patch('/tenants/:tenant_id', {
    schema: { tags, summary: 'Update a tenant (status and limits: platform admin)', params: TenantParams, body: PatchBody, response: { 200: TenantView, ...errors } },
  }, async (req) => {
    const b: PatchBody = req.body;
    return view(await services.tenants.patch(req.principal!, req.params.tenant_id, {
      name: b.name, status: b.status, maxAgents: b.max_agents, maxConcurrentCalls: b.max_concurrent_calls, billingEmail: b.billing_email,
    }));
  });
}
