import { UsageError, arg, flag, intFlag } from '../args.js';
import { followEvents, ok, type Command, type Ctx } from '../context.js';
import type { RegistrationState } from '../../client/index.js';

const COLUMNS = ['id', 'type', 'name', 'status', 'state', 'error', 'registrar', 'username', 'number', 'agent_id'];
const STATES = ['initial', 'registering', 'registered', 'failed'];
const HANDLERS = ['livekit', 'dialtone', 'relay', 'sip'];

const id = (ctx: Ctx) => arg(ctx.args, 0, 'LINE_ID');
const path = (ctx: Ctx) => ({ params: { path: { id: id(ctx) } } });

function stateText(at: string, s: RegistrationState): string {
  return `${at}  ${s.registration_id}  ${s.status}/${s.state}${s.error ? `  ${s.error}` : ''}`;
}

export const lineCommands: Command[] = [
  {
    words: ['lines', 'list'], usage: 'dialtone lines list', summary: 'lines (registrations) and numbers, with state and error',
    async run(ctx) {
      const items = [];
      let token: string | undefined;
      do {
        const page = await ok(ctx.api.GET('/phone-endpoints', { params: { query: { page_size: 200, ...(token ? { page_token: token } : {}) } } }));
        items.push(...page.items);
        token = page.next_page_token ?? undefined;
      } while (token);
      ctx.out.table(items, COLUMNS);
    },
  },
  {
    words: ['lines', 'show'], usage: 'dialtone lines show LINE_ID', summary: 'one line',
    async run(ctx) {
      const { success: _s, ...line } = await ok(ctx.api.GET('/phone-endpoints/{id}', path(ctx)));
      ctx.out.item(line);
    },
  },
  {
    words: ['lines', 'add'],
    usage: 'dialtone lines add --registrar sip:HOST[:PORT][;transport=tcp] --username USER --password PASS [--name NAME] [--handler livekit|dialtone|relay|sip] [--activate]',
    summary: 'a line for Dialtone to register (disabled until activated)',
    flags: ['registrar', 'username', 'password', 'name', 'handler'], switches: ['activate'],
    async run(ctx) {
      const handler = flag(ctx.args, 'handler');
      if (handler !== undefined && !HANDLERS.includes(handler)) throw new UsageError(`--handler must be one of ${HANDLERS.join(', ')}`);
      const name = flag(ctx.args, 'name');
      const made = await ok(ctx.api.POST('/phone-endpoints', {
        body: {
          type: 'phone-registration', registrar: flag(ctx.args, 'registrar', true), username: flag(ctx.args, 'username', true),
          password: flag(ctx.args, 'password', true), ...(name ? { name } : {}), ...(handler ? { handler: handler as 'sip' } : {}),
        },
      }));
      if (ctx.args.flags.get('activate') === true) {
        const s = await ok(ctx.api.POST('/phone-endpoints/{id}/activate', { params: { path: { id: made.id } } }));
        return ctx.out.item({ id: s.id, status: s.status, state: s.state });
      }
      ctx.out.item({ id: made.id, status: 'disabled', state: 'initial' });
    },
  },
  ...(['activate', 'disable'] as const).map((verb): Command => ({
    words: ['lines', verb], usage: `dialtone lines ${verb} LINE_ID`,
    summary: verb === 'activate' ? 'start registering the line' : 'stop registering it (keeps its agent)',
    async run(ctx) {
      const s = await ok(verb === 'activate'
        ? ctx.api.POST('/phone-endpoints/{id}/activate', path(ctx))
        : ctx.api.POST('/phone-endpoints/{id}/disable', path(ctx)));
      ctx.out.item({ id: s.id, status: s.status, state: s.state });
    },
  })),
  {
    words: ['lines', 'delete'], usage: 'dialtone lines delete LINE_ID', summary: 'remove the line (it de-registers)',
    async run(ctx) {
      const r = await ok(ctx.api.DELETE('/phone-endpoints/{id}', path(ctx)));
      ctx.out.done(`deleted line ${r.id}`, { id: r.id });
    },
  },
  {
    words: ['lines', 'bind'], usage: 'dialtone lines bind LINE_ID --agent AGENT_ID', summary: 'let an agent answer the calls arriving on the line',
    flags: ['agent'],
    async run(ctx) {
      const r = await ok(ctx.api.POST('/agents/{agentId}/listen', { params: { path: { agentId: flag(ctx.args, 'agent', true) } }, body: { id: id(ctx) } }));
      ctx.out.done(`agent ${r.agent_id} answers line ${r.id}`, { agent_id: r.agent_id, id: r.id });
    },
  },
  {
    words: ['lines', 'watch'],
    usage: 'dialtone lines watch [LINE_ID…] [--until registered|failed|…] [--timeout SECONDS]',
    summary: 'line states live (over /events/ws); --until exits once every named line reaches that state',
    flags: ['until', 'timeout'],
    async run(ctx) {
      const ids = ctx.args.positionals;
      const until = flag(ctx.args, 'until');
      if (until !== undefined && !STATES.includes(until)) throw new UsageError(`--until must be one of ${STATES.join(', ')}`);
      if (until && ids.length === 0) throw new UsageError('--until needs the LINE_IDs to wait for');
      const timeout = intFlag(ctx.args, 'timeout');
      const latest = new Map<string, string>();
      const reached = () => until !== undefined && ids.every((i) => latest.get(i) === until);
      const show = (at: string, s: RegistrationState) => {
        latest.set(s.registration_id, s.state);
        ctx.out.line({ type: 'registration.updated', timestamp: at, data: s }, stateText(at, s));
      };
      await followEvents(ctx, {
        ...(timeout ? { timeoutMs: timeout * 1000 } : {}),
        async onOpen() {
          // Where each line stands now; the stream carries every change from here on.
          for (const lineId of ids) {
            const l = await ok(ctx.api.GET('/phone-endpoints/{id}', { params: { path: { id: lineId } } }));
            show(new Date().toISOString(), { registration_id: l.id, status: (l.status ?? 'disabled') as RegistrationState['status'], state: (l.state ?? 'initial') as RegistrationState['state'], error: l.error ?? null });
          }
          ctx.out.note(`watching ${ids.length ? ids.join(', ') : 'every line'} (Ctrl-C to stop)`);
          return reached();
        },
      }, (e) => {
        if (e.type !== 'registration.updated') return;
        if (ids.length && !ids.includes(e.data.registration_id)) return;
        show(e.timestamp, e.data);
        return reached();
      });
    },
  },
];
