import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { PLAIN_AGENT_ROUTE, type AppOptions } from '../../context.js';
import { pageTokenToIso, renderPage, renderTag } from './render.js';
import { IdParams, PageQuery, TagView, actor, pageOf, replies, schema } from './schemas.js';

const NewTagBody = Type.Object({
  name: Type.String({ maxLength: 255 }),
  detail: Type.Optional(Type.String({ maxLength: 2000 })),
});
const TagPatchBody = Type.Object({
  name: Type.Optional(Type.String({ maxLength: 255 })),
  detail: Type.Optional(Type.String({ maxLength: 2000 })),
});

/** `/v1.0/tags…`: labels for agents. */
export async function tagRoutes(app: FastifyInstance, opts: AppOptions): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = opts.services.tags;

  r.get('/tags', { config: PLAIN_AGENT_ROUTE, schema: schema({ summary: 'List tags', querystring: PageQuery, response: replies(pageOf(TagView)) }) }, async (req) =>
    renderPage(await tags.list(actor(req), { pageSize: req.query.page_size, before: pageTokenToIso(req.query.page_token) }), renderTag));
  r.post('/tags', { schema: schema({ summary: 'Create a tag', body: NewTagBody, response: replies(TagView) }) }, async (req) =>
    renderTag(await tags.create(actor(req), req.body)));
  r.get('/tags/:id', { config: PLAIN_AGENT_ROUTE, schema: schema({ summary: 'Show one tag', params: IdParams, response: replies(TagView) }) }, async (req) =>
    renderTag(await tags.get(actor(req), req.params.id)));
  r.put('/tags/:id', { schema: schema({ summary: 'Update a tag', params: IdParams, body: TagPatchBody, response: replies(TagView) }) }, async (req) =>
    renderTag(await tags.update(actor(req), req.params.id, req.body)));
  r.delete('/tags/:id', { schema: schema({ summary: 'Delete a tag', params: IdParams, response: replies(TagView) }) }, async (req) =>
    renderTag(await tags.delete(actor(req), req.params.id)));
}
