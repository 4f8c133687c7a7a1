import { arg, flag, intFlag } from '../args.js';
import { ok, type Command } from '../context.js';

const COLUMNS = ['id', 'name', 'detail', 'tm_expire', 'tm_create'];

export const keyCommands: Command[] = [
  {
    words: ['keys', 'list'], usage: 'dialtone keys list', summary: "the tenant's access keys (never their tokens)",
    async run(ctx) {
      const page = await ok(ctx.api.GET('/v1.0/accesskeys', { params: { query: { page_size: 100 } } }));
      ctx.out.table(page.result, COLUMNS);
    },
  },
  {
    words: ['keys', 'create'], usage: 'dialtone keys create --name NAME [--detail TEXT] [--expire SECONDS]',
    summary: 'a new access key; its token is shown once', flags: ['name', 'detail', 'expire'],
    async run(ctx) {
      const key = await ok(ctx.api.POST('/v1.0/accesskeys', {
        body: { name: flag(ctx.args, 'name', true), detail: flag(ctx.args, 'detail') ?? '', expire: intFlag(ctx.args, 'expire') ?? 0 },
      }));
      ctx.out.item(key, ['id', 'name', 'detail', 'token', 'tm_expire']);
    },
  },
  {
    words: ['keys', 'delete'], usage: 'dialtone keys delete KEY_ID', summary: 'revoke an access key',
    async run(ctx) {
      const key = await ok(ctx.api.DELETE('/v1.0/accesskeys/{id}', { params: { path: { id: arg(ctx.args, 0, 'KEY_ID') } } }));
      ctx.out.done(`deleted key ${key.id}`, { id: key.id });
    },
  },
];
