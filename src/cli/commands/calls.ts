import { UsageError, arg, flag, intFlag } from '../args.js';
import { followEvents, ok, type Command, type Ctx } from '../context.js';
import type { StreamEvent } from '../../client/index.js';

const COLUMNS = ['call_sid', 'direction', 'status', 'agent_id', 'from_number', 'to_number', 'started_at', 'duration_seconds'];

const sid = (ctx: Ctx) => arg(ctx.args, 0, 'CALL_SID');

function eventText(e: StreamEvent): string {
  const data = e.data as Record<string, unknown>;
  const what = e.type.startsWith('transcript.') ? `${data.role ?? ''} ${JSON.stringify(data.text)}`.trim()
    : e.type === 'registration.updated' ? `${data.registration_id} ${data.state}${data.error ? ` ${data.error}` : ''}`
      : Object.entries(data).filter(([, v]) => v !== null && v !== undefined).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`).join(' ');
  return `${e.timestamp}  ${e.call_sid ?? '-'}  ${e.type}  ${what}`;
}

/** The four supervisor buttons: each names the call and answers `{message, call_sid}`. */
const supervisor = (verb: 'say' | 'dtmf' | 'transfer' | 'end'): Command => ({
  words: ['calls', verb],
  usage: { say: 'dialtone calls say CALL_SID TEXT', dtmf: 'dialtone calls dtmf CALL_SID DIGITS', transfer: 'dialtone calls transfer CALL_SID +15551112222', end: 'dialtone calls end CALL_SID' }[verb],
  summary: { say: 'speak text to the caller now', dtmf: 'send DTMF digits', transfer: 'hand the call to a number', end: 'hang up' }[verb],
  async run(ctx) {
    const call_sid = sid(ctx);
    const r = await ok(verb === 'say' ? ctx.api.POST('/api/override/text', { body: { call_sid, text: arg(ctx.args, 1, 'TEXT') } })
      : verb === 'dtmf' ? ctx.api.POST('/api/override/dtmf', { body: { call_sid, digit: arg(ctx.args, 1, 'DIGITS') } })
        : verb === 'transfer' ? ctx.api.POST('/api/override/transfer', { body: { call_sid, target: arg(ctx.args, 1, 'TARGET') } })
          : ctx.api.POST('/api/override/end', { body: { call_sid } }));
    ctx.out.done(r.message, { call_sid: r.call_sid });
  },
});

export const callCommands: Command[] = [
  {
    words: ['calls', 'list'], usage: 'dialtone calls list [--history] [--agent AGENT_ID] [--limit N]',
    summary: 'live calls, or past ones with --history', flags: ['agent', 'limit'], switches: ['history'],
    async run(ctx) {
      if (ctx.args.flags.get('history') !== true) {
        if (ctx.args.flags.has('agent') || ctx.args.flags.has('limit')) throw new UsageError('--agent and --limit go with --history');
        return ctx.out.table(await ok(ctx.api.GET('/api/calls/active')), COLUMNS);
      }
      const agent = flag(ctx.args, 'agent');
      const limit = intFlag(ctx.args, 'limit');
      const page = await ok(ctx.api.GET('/api/calls/history', { params: { query: { ...(agent ? { agent_id: agent } : {}), limit: limit ?? 20, offset: 0 } } }));
      ctx.out.table(page.calls, [...COLUMNS, 'end_reason']);
    },
  },
  {
    words: ['calls', 'show'], usage: 'dialtone calls show CALL_SID', summary: 'one call with its transcript',
    async run(ctx) {
      ctx.out.item(await ok(ctx.api.GET('/api/calls/{call_sid}', { params: { path: { call_sid: sid(ctx) } } })));
    },
  },
  {
    words: ['calls', 'tail'], usage: 'dialtone calls tail [--call CALL_SID] [--count N] [--timeout SECONDS]',
    summary: 'call events live (started, transcript, context, ended) until Ctrl-C, N events, or the timeout', flags: ['call', 'count', 'timeout'],
    async run(ctx) {
      const count = intFlag(ctx.args, 'count');
      const timeout = intFlag(ctx.args, 'timeout');
      const callSid = flag(ctx.args, 'call');
      let seen = 0;
      await followEvents(ctx, {
        ...(callSid ? { callSid } : {}), ...(timeout ? { timeoutMs: timeout * 1000 } : {}),
        async onOpen() { ctx.out.note(`following ${callSid ? `call ${callSid}` : 'calls'} on ${ctx.settings.url} (Ctrl-C to stop)`); },
      }, (e) => {
        if (e.type === 'registration.updated') return;
        ctx.out.line(e, eventText(e));
        seen += 1;
        return count !== undefined && seen >= count;
      });
    },
  },
  {
    words: ['calls', 'place'], usage: 'dialtone calls place --agent AGENT_ID --to +15559876543 [--context JSON]',
    summary: "have an agent call a number (from the agent's own number)", flags: ['agent', 'to', 'context'],
    async run(ctx) {
      const raw = flag(ctx.args, 'context');
      let context: Record<string, unknown> | undefined;
      if (raw !== undefined) {
        try { context = JSON.parse(raw) as Record<string, unknown>; } catch { throw new UsageError('--context must be a JSON object'); }
        if (!context || typeof context !== 'object' || Array.isArray(context)) throw new UsageError('--context must be a JSON object');
      }
      const r = await ok(ctx.api.POST('/api/agents/{agent_id}/call', {
        params: { path: { agent_id: flag(ctx.args, 'agent', true) } },
        body: { to_number: flag(ctx.args, 'to', true), ...(context ? { context } : {}) },
      }));
      ctx.out.item(r);
    },
  },
  supervisor('say'), supervisor('dtmf'), supervisor('transfer'), supervisor('end'),
];
