import type { Tag, TagChanges, TagRepository } from '../../domain/tags.js';
import type { Scope } from '../../domain/principal.js';
import type { Tx } from '../../domain/unit-of-work.js';
import type { TagTable } from '../schema.js';
import { on, type StoreHandle } from '../transactions.js';

function toTag(r: TagTable): Tag {
  return { id: r.id, tenantId: r.tenant_id, name: r.name, detail: r.detail, createdAt: r.created_at, updatedAt: r.updated_at };
}

/** The `tags` table, and `agent_tags` rows when a tag goes away. */
export class SqlTagRepository implements TagRepository {
  constructor(private readonly store: StoreHandle) {}

  async insert(tx: Tx | undefined, tag: Tag): Promise<void> {
    await on(this.store, tx).insertInto('tags').values({
      id: tag.id, tenant_id: tag.tenantId, name: tag.name, detail: tag.detail, created_at: tag.createdAt, updated_at: tag.updatedAt,
    }).execute();
  }

  async get(scope: Scope, id: string, tx?: Tx): Promise<Tag | null> {
    const row = await on(this.store, tx).selectFrom('tags').selectAll()
      .where('tenant_id', '=', scope.tenantId).where('id', '=', id).executeTakeFirst();
    return row ? toTag(row) : null;
  }

  async listNewestFirst(scope: Scope, opts: { before?: string; limit: number }): Promise<Tag[]> {
    let q = this.store.db.selectFrom('tags').selectAll().where('tenant_id', '=', scope.tenantId);
    if (opts.before) q = q.where('created_at', '<', opts.before);
    return (await q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(opts.limit).execute()).map(toTag);
  }

  async update(tx: Tx | undefined, scope: Scope, id: string, changes: TagChanges): Promise<void> {
    await on(this.store, tx).updateTable('tags').set({
      updated_at: changes.updatedAt,
      ...(changes.name !== undefined && { name: changes.name }),
      ...(changes.detail !== undefined && { detail: changes.detail }),
    }).where('tenant_id', '=', scope.tenantId).where('id', '=', id).execute();
  }

  async delete(tx: Tx, scope: Scope, id: string): Promise<void> {
    const db = on(this.store, tx);
    await db.deleteFrom('agent_tags').where('tenant_id', '=', scope.tenantId).where('tag_id', '=', id).execute();
    await db.deleteFrom('tags').where('tenant_id', '=', scope.tenantId).where('id', '=', id).execute();
  }

  async existing(scope: Scope, ids: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const found = await this.store.db.selectFrom('tags').select('id')
      .where('tenant_id', '=', scope.tenantId).where('id', 'in', [...ids]).execute();
    return new Set(found.map((r) => r.id));
  }
}
