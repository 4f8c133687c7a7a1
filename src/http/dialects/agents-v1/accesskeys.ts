import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { TOKEN_ROUTE, type AppOptions } from '../../context.js';
import { pageTokenToIso, renderAccessKey, renderPage } from './render.js';
import { AccessKeyView, IdParams, PageQuery, actor, pageOf, replies, schema } from './schemas.js';

const HUNDRED_YEARS = 100 * 365 * 24 * 3600;

const NewKeyBody = Type.Object({
  name: Type.Optional(Type.String({ maxLength: 255 })),
  detail: Type.Optional(Type.String({ maxLength: 2000 })),
  expire: Type.Optional(Type.Integer({ minimum: 0, maximum: HUNDRED_YEARS, description: 'seconds until it expires; 0 for never' })),
}, { examples: [{ name: 'ops', detail: 'ops key', expire: 0 }] });
const KeyPatchBody = Type.Object({
  name: Type.Optional(Type.String({ maxLength: 255 })),
  detail: Type.Optional(Type.String({ maxLength: 2000 })),
});

/** `/v1.0/accesskeys…`: tenant API keys; the token is shown in the create response only. */
export async function accessKeyRoutes(app: FastifyInstance, opts: AppOptions): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const keys = opts.services.accessKeys;

  r.get('/accesskeys', { schema: schema({ summary: 'List access keys (never their tokens)', querystring: PageQuery, response: replies(pageOf(AccessKeyView)) }) }, async (req) =>
    renderPage(await keys.list(actor(req), { pageSize: req.query.page_size, before: pageTokenToIso(req.query.page_token) }), (k) => renderAccessKey(k)));
  r.post('/accesskeys', { config: TOKEN_ROUTE, schema: schema({ summary: 'Create an access key (its token is shown once)', body: NewKeyBody, response: replies(AccessKeyView) }) }, async (req) => {
    const { key, token } = await keys.create(actor(req), { name: req.body.name, detail: req.body.detail, expireSeconds: req.body.expire });
    return renderAccessKey(key, token);
  });
  r.get('/accesskeys/:id', { schema: schema({ summary: 'Show one access key', params: IdParams, response: replies(AccessKeyView) }) }, async (req) =>
    renderAccessKey(await keys.get(actor(req), req.params.id)));
  r.put('/accesskeys/:id', { schema: schema({ summary: 'Update an access key', params: IdParams, body: KeyPatchBody, response: replies(AccessKeyView) }) }, async (req) =>
    renderAccessKey(await keys.update(actor(req), req.params.id, req.body)));
  r.delete('/accesskeys/:id', { schema: schema({ summary: 'Delete an access key', params: IdParams, response: replies(AccessKeyView) }) }, async (req) =>
    renderAccessKey(await keys.delete(actor(req), req.params.id)));
}
