import { flag } from '../args.js';
import { ok, requireKey, type Command } from '../context.js';
import { readProfiles, saveProfile } from '../settings.js';

export const bootstrapCommands: Command[] = [
  {
    words: ['bootstrap'],
    usage: 'dialtone bootstrap --name NAME [--subdomain LABEL] [--key-name ops] [--save PROFILE]',
    summary: 'with the platform-admin key: make a tenant and its first access key (shown once)',
    flags: ['name', 'subdomain', 'key-name', 'save'],
    async run(ctx) {
      requireKey(ctx);
      const subdomain = flag(ctx.args, 'subdomain');
      const tenant = await ok(ctx.api.POST('/tenants', { body: { name: flag(ctx.args, 'name', true), ...(subdomain ? { subdomain } : {}) } }));
      const asTenant = ctx.client({ apiKey: ctx.settings.apiKey, accountId: tenant.id });
      const key = await ok(asTenant.POST('/v1.0/accesskeys', { body: { name: flag(ctx.args, 'key-name') ?? 'ops', detail: 'made by dialtone bootstrap', expire: 0 } }));
      const save = flag(ctx.args, 'save');
      if (save) saveProfile(ctx.settings.profileFile, save, { url: ctx.settings.url, apiKey: key.token ?? undefined });
      ctx.out.item({ tenant_id: tenant.id, tenant_name: tenant.name, key_id: key.id, key: key.token, saved_as: save ?? null });
      ctx.out.note(save ? `saved as profile "${save}" in ${ctx.settings.profileFile}` : 'store the key now: it is not shown again');
    },
  },
  {
    words: ['profile', 'save'],
    usage: 'dialtone profile save [--profile NAME] --url URL --api-key KEY [--account TENANT]',
    summary: 'save the server and key given (flags or environment) as a profile',
    async run(ctx) {
      const key = requireKey(ctx);
      saveProfile(ctx.settings.profileFile, ctx.settings.profileName, { url: ctx.settings.url, apiKey: key, ...(ctx.settings.accountId ? { accountId: ctx.settings.accountId } : {}) });
      ctx.out.done(`saved profile "${ctx.settings.profileName}" in ${ctx.settings.profileFile}`, { profile: ctx.settings.profileName });
    },
  },
  {
    words: ['profile', 'list'],
    usage: 'dialtone profile list',
    summary: 'the saved profiles (keys shortened)',
    async run(ctx) {
      const rows = Object.entries(readProfiles(ctx.settings.profileFile)).map(([name, p]) => ({
        name, url: p.url ?? null, key: p.apiKey ? `${p.apiKey.slice(0, 6)}…` : null, account: p.accountId ?? null,
      }));
      ctx.out.table(rows, ['name', 'url', 'key', 'account']);
    },
  },
];
