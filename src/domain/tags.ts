import type { TagTable } from '../store/schema.js';
import type { ServiceDeps } from './deps.js';
import { event } from './deps.js';
import { forbidden, invalid, notFound } from './errors.js';
import { pageByCreation, type Page } from './paging.js';
import { canManageAgents, scopeOf, type Principal, type Scope } from './principal.js';
import { requireText } from './validate.js';

/** A label agents carry so queues and reports can group them. */
export interface Tag {
  id: string;
  tenantId: string;
  name: string;
  detail: string;
  createdAt: string;
  updatedAt: string;
}

export interface TagInput {
  name?: string;
  detail?: string;
}

function toTag(r: TagTable): Tag {
  return { id: r.id, tenantId: r.tenant_id, name: r.name, detail: r.detail, createdAt: r.created_at, updatedAt: r.updated_at };
}

/** Anyone in the tenant may read tags; changing them is agent management. */
function requireManager(actor: Principal): Scope {
  const scope = scopeOf(actor);
  if (!canManageAgents(actor)) throw forbidden('managing tags needs the manager or admin permission');
  return scope;
}

export class TagService {
  constructor(private readonly deps: ServiceDeps) {}

  async create(actor: Principal, input: TagInput): Promise<Tag> {
    const scope = requireManager(actor);
    const now = this.deps.clock.now().toISOString();
    const row: TagTable = {
      id: this.deps.ids.uuid(),
      tenant_id: scope.tenantId,
      name: requireText('name', input.name, { max: 255 }),
      detail: input.detail === undefined ? '' : requireText('detail', input.detail, { min: 0, max: 2000 }),
      created_at: now,
      updated_at: now,
    };
    await this.deps.db.insertInto('tags').values(row).execute();
    await this.deps.bus.publish(event(this.deps, 'tag.created', scope.tenantId, { tag_id: row.id }));
    return toTag(row);
  }

  async get(actor: Principal, id: string): Promise<Tag> {
    return this.find(scopeOf(actor), id);
  }

  /** `before` is the creation time the previous page ended at. */
  async list(actor: Principal, page: { pageSize: number; before?: string }): Promise<Page<Tag>> {
    const scope = scopeOf(actor);
    return pageByCreation(page.pageSize, async (limit) => {
      let q = this.deps.db.selectFrom('tags').selectAll().where('tenant_id', '=', scope.tenantId);
      if (page.before) q = q.where('created_at', '<', page.before);
      return (await q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute()).map(toTag);
    });
  }

  async update(actor: Principal, id: string, patch: TagInput): Promise<Tag> {
    const scope = requireManager(actor);
    await this.find(scope, id);
    const set: Partial<TagTable> = { updated_at: this.deps.clock.now().toISOString() };
    if (patch.name !== undefined) set.name = requireText('name', patch.name, { max: 255 });
    if (patch.detail !== undefined) set.detail = requireText('detail', patch.detail, { min: 0, max: 2000 });
    await this.deps.db.updateTable('tags').set(set).where('tenant_id', '=', scope.tenantId).where('id', '=', id).execute();
    await this.deps.bus.publish(event(this.deps, 'tag.updated', scope.tenantId, { tag_id: id }));
    return this.find(scope, id);
  }

  /** Removes the tag from every agent too. */
  async delete(actor: Principal, id: string): Promise<Tag & { deletedAt: string }> {
    const scope = requireManager(actor);
    const tag = await this.find(scope, id);
    await this.deps.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('agent_tags').where('tenant_id', '=', scope.tenantId).where('tag_id', '=', id).execute();
      await trx.deleteFrom('tags').where('tenant_id', '=', scope.tenantId).where('id', '=', id).execute();
    });
    await this.deps.bus.publish(event(this.deps, 'tag.deleted', scope.tenantId, { tag_id: id }));
    return { ...tag, deletedAt: this.deps.clock.now().toISOString() };
  }

  /** The distinct ids, in the order given, once every one is a tag of this tenant. */
  async requireAll(scope: Scope, ids: readonly string[]): Promise<string[]> {
    const wanted = [...new Set(ids)];
    if (wanted.length === 0) return [];
    const found = await this.deps.db.selectFrom('tags').select('id')
      .where('tenant_id', '=', scope.tenantId).where('id', 'in', wanted).execute();
    const known = new Set(found.map((r) => r.id));
    const missing = wanted.filter((id) => !known.has(id));
    if (missing.length) throw invalid('tag_ids', `tag_ids contains unknown tag ${missing[0]}`);
    return wanted;
  }

  private async find(scope: Scope, id: string): Promise<Tag> {
    const row = await this.deps.db.selectFrom('tags').selectAll().where('tenant_id', '=', scope.tenantId).where('id', '=', id).executeTakeFirst();
    if (!row) throw notFound('tag');
    return toTag(row);
  }
}
