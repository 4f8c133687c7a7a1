import { arg, flag } from '../args.js';
import { ok, type Command } from '../context.js';

const COLUMNS = ['id', 'e164', 'provider', 'agent_id', 'credentials_id', 'inbound_enabled', 'outbound_enabled'];

export const numberCommands: Command[] = [
  {
    words: ['numbers', 'list'], usage: 'dialtone numbers list [--agent AGENT_ID]', summary: "the tenant's phone numbers", flags: ['agent'],
    async run(ctx) {
      const agent = flag(ctx.args, 'agent');
      const r = await ok(ctx.api.GET('/api/v1/telephony/numbers', { params: { query: agent ? { agent_id: agent } : {} } }));
      ctx.out.table(r.numbers, COLUMNS);
    },
  },
  {
    words: ['numbers', 'add'], usage: 'dialtone numbers add --e164 +12025550123 [--credentials CREDENTIALS_ID] [--agent AGENT_ID]',
    summary: 'register a phone number (on carrier credentials, to call out from it)', flags: ['e164', 'credentials', 'agent'],
    async run(ctx) {
      const credentials = flag(ctx.args, 'credentials');
      const agent = flag(ctx.args, 'agent');
      const n = await ok(ctx.api.POST('/api/v1/telephony/numbers', {
        body: { e164: flag(ctx.args, 'e164', true), ...(credentials ? { credentials_id: credentials } : {}), ...(agent ? { agent_id: agent } : {}) },
      }));
      ctx.out.item(n, COLUMNS);
    },
  },
  {
    words: ['numbers', 'assign'], usage: 'dialtone numbers assign +12025550123 --agent AGENT_ID', summary: 'give the number to an agent', flags: ['agent'],
    async run(ctx) {
      const r = await ok(ctx.api.POST('/api/phone-numbers/{phone_number}/assign', {
        params: { path: { phone_number: arg(ctx.args, 0, 'NUMBER') } }, body: { agent_id: flag(ctx.args, 'agent', true) },
      }));
      ctx.out.done(r.message, { phone_number: r.phone_number, agent_id: r.agent_id });
    },
  },
  {
    words: ['numbers', 'release'], usage: 'dialtone numbers release +12025550123', summary: 'take the number back from its agent',
    async run(ctx) {
      const r = await ok(ctx.api.POST('/api/phone-numbers/{phone_number}/release', { params: { path: { phone_number: arg(ctx.args, 0, 'NUMBER') } } }));
      ctx.out.done(r.message);
    },
  },
];
