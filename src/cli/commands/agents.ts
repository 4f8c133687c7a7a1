import { UsageError, arg, flag } from '../args.js';
import { ok, type Command } from '../context.js';

const COLUMNS = ['id', 'name', 'type', 'status', 'phone_number', 'voice', 'total_calls'];
const KINDS = ['inbound', 'outbound'] as const;

export const agentCommands: Command[] = [
  {
    words: ['agents', 'list'], usage: 'dialtone agents list [--type inbound|outbound]', summary: 'AI agents (deployment API)', flags: ['type'],
    async run(ctx) {
      const type = flag(ctx.args, 'type');
      if (type !== undefined && !KINDS.includes(type as never)) throw new UsageError('--type must be inbound or outbound');
      ctx.out.table(await ok(ctx.api.GET('/api/agents', { params: { query: type ? { type: type as 'inbound' } : {} } })), COLUMNS);
    },
  },
  {
    words: ['agents', 'show'], usage: 'dialtone agents show AGENT_ID', summary: 'one agent',
    async run(ctx) {
      ctx.out.item(await ok(ctx.api.GET('/api/agents/{agent_id}', { params: { path: { agent_id: arg(ctx.args, 0, 'AGENT_ID') } } })));
    },
  },
  {
    words: ['agents', 'create'],
    usage: 'dialtone agents create --name NAME [--type inbound|outbound] [--prompt TEXT] [--voice VOICE] [--greeting TEXT]',
    summary: 'a new AI agent', flags: ['name', 'type', 'prompt', 'voice', 'greeting'],
    async run(ctx) {
      const type = flag(ctx.args, 'type') ?? 'inbound';
      if (!KINDS.includes(type as never)) throw new UsageError('--type must be inbound or outbound');
      const prompt = flag(ctx.args, 'prompt');
      const voice = flag(ctx.args, 'voice');
      const greeting = flag(ctx.args, 'greeting');
      const agent = await ok(ctx.api.POST('/api/agents', {
        body: {
          name: flag(ctx.args, 'name', true), type: type as 'inbound',
          ...(prompt ? { system_prompt: prompt } : {}), ...(voice ? { voice } : {}), ...(greeting ? { greeting } : {}),
        },
      }));
      ctx.out.item(agent, COLUMNS);
    },
  },
  {
    words: ['agents', 'delete'], usage: 'dialtone agents delete AGENT_ID', summary: 'remove an agent',
    async run(ctx) {
      const agentId = arg(ctx.args, 0, 'AGENT_ID');
      await ok(ctx.api.DELETE('/api/agents/{agent_id}', { params: { path: { agent_id: agentId } } }));
      ctx.out.done(`deleted agent ${agentId}`, { id: agentId });
    },
  },
];
