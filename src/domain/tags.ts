import type { WallClock, IdSource } from './ids.js';
import type { Tx, UnitOfWork } from './unit-of-work.js';
import { forbidden, invalid, notFound } from './errors.js';
import { domainEvent } from './events.js';
import { pageByCreation, type Page } from './paging.js';
import { canManage, scopeOf, type Principal, type Scope } from './principal.js';
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

export interface TagChanges {
  name?: string;
  detail?: string;
  updatedAt: string;
}

/** Where tags are kept; the only writer of the tags table. */
export interface TagRepository {
  insert(tx: Tx | undefined, tag: Tag): Promise<void>;
  get(scope: Scope, id: string, tx?: Tx): Promise<Tag | null>;
  listNewestFirst(scope: Scope, opts: { before?: string; limit: number }): Promise<Tag[]>;
  update(tx: Tx | undefined, scope: Scope, id: string, changes: TagChanges): Promise<void>;
  /** Removes the tag from every agent too. */
  delete(tx: Tx, scope: Scope, id: string): Promise<void>;
  /** Which of `ids` are tags of the tenant. */
  existing(scope: Scope, ids: readonly string[]): Promise<Set<string>>;
}

export interface TagServiceDeps {
  tags: TagRepository;
  uow: UnitOfWork;
  clock: WallClock;
  ids: IdSource;
}

/** Anyone in the tenant may read tags; changing them is agent management. */
function requireManager(actor: Principal): Scope {
  const scope = scopeOf(actor);
  if (!canManage(actor)) throw forbidden('managing tags needs the manager or admin permission');
  return scope;
}

export class TagService {
  constructor(private readonly deps: TagServiceDeps) {}

  async create(actor: Principal, input: TagInput): Promise<Tag> {
    const scope = requireManager(actor);
    const now = this.deps.clock.now().toISOString();
    const tag: Tag = {
      id: this.deps.ids.uuid(),
      tenantId: scope.tenantId,
      name: requireText('name', input.name, { max: 255 }),
      detail: input.detail === undefined ? '' : requireText('detail', input.detail, { min: 0, max: 2000 }),
      createdAt: now,
      updatedAt: now,
    };
    await this.deps.uow.run(async (tx) => {
      await this.deps.tags.insert(tx, tag);
      tx.emit(domainEvent(this.deps.clock, 'tag.created', scope.tenantId, { tag_id: tag.id }));
    });
    return tag;
  }

  async get(actor: Principal, id: string): Promise<Tag> {
    return this.find(scopeOf(actor), id);
  }

  /** `before` is the creation time the previous page ended at. */
  async list(actor: Principal, page: { pageSize: number; before?: string }): Promise<Page<Tag>> {
    const scope = scopeOf(actor);
    return pageByCreation(page.pageSize, (limit) => this.deps.tags.listNewestFirst(scope, { before: page.before, limit }));
  }

  async update(actor: Principal, id: string, patch: TagInput): Promise<Tag> {
    const scope = requireManager(actor);
    await this.find(scope, id);
    const changes: TagChanges = { updatedAt: this.deps.clock.now().toISOString() };
    if (patch.name !== undefined) changes.name = requireText('name', patch.name, { max: 255 });
    if (patch.detail !== undefined) changes.detail = requireText('detail', patch.detail, { min: 0, max: 2000 });
    await this.deps.uow.run(async (tx) => {
      await this.deps.tags.update(tx, scope, id, changes);
      tx.emit(domainEvent(this.deps.clock, 'tag.updated', scope.tenantId, { tag_id: id }));
    });
    return this.find(scope, id);
  }

  /** Removes the tag from every agent too. */
  async delete(actor: Principal, id: string): Promise<Tag & { deletedAt: string }> {
    const scope = requireManager(actor);
    const tag = await this.find(scope, id);
    await this.deps.uow.run(async (tx) => {
      await this.deps.tags.delete(tx, scope, id);
      tx.emit(domainEvent(this.deps.clock, 'tag.deleted', scope.tenantId, { tag_id: id }));
    });
    return { ...tag, deletedAt: this.deps.clock.now().toISOString() };
  }

  /** The distinct ids, in the order given, once every one is a tag of this tenant. */
  async requireAll(scope: Scope, ids: readonly string[]): Promise<string[]> {
    const wanted = [...new Set(ids)];
    if (wanted.length === 0) return [];
    const known = await this.deps.tags.existing(scope, wanted);
    const missing = wanted.filter((id) => !known.has(id));
    if (missing.length) throw invalid('tag_ids', `tag_ids contains unknown tag ${missing[0]}`);
    return wanted;
  }

  private async find(scope: Scope, id: string): Promise<Tag> {
    const tag = await this.deps.tags.get(scope, id);
    if (!tag) throw notFound('tag');
    return tag;
  }
}
