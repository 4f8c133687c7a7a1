/** Lines: the SIP registrations, their state updated live from `registration.updated` events. */
import { useRef, useState } from 'react';
import { api, data } from '../api';
import { useLiveEvents } from '../live';
import { Action, ErrorLine, Section, Table, useLoad } from '../ui';

interface Line {
  id: string;
  type: 'phone-registration' | 'e164-ddi';
  name?: string;
  registrar?: string;
  username?: string;
  status?: string;
  state?: string;
  error?: string;
  agent_id: string | null;
}

interface AgentRow { id: string; name: string }

async function loadLines(): Promise<Line[]> {
  const out: Line[] = [];
  let token: string | undefined;
  // The registrations document pages by token; a tenant rarely has more than a few pages of lines.
  for (let i = 0; i < 20; i++) {
    const r = await data(api().GET('/phone-endpoints', { params: { query: { type: 'phone-registration', page_size: 100, page_token: token } } }));
    out.push(...r.items);
    if (!r.next_page_token) break;
    token = r.next_page_token;
  }
  return out;
}

function AddLine({ onAdded }: { onAdded: () => void }) {
  const [f, setF] = useState({ name: '', registrar: '', username: '', password: '' });
  const [error, setError] = useState<string | null>(null);
  const field = (k: keyof typeof f, label: string, type = 'text') => (
    <label>{label}<input name={k} type={type} value={f[k]} autoComplete="off" onChange={(e) => setF({ ...f, [k]: e.target.value })} /></label>
  );
  return (
    <form className="inline-form" onSubmit={(e) => {
      e.preventDefault();
      setError(null);
      data(api().POST('/phone-endpoints', { body: { type: 'phone-registration', ...f, name: f.name || undefined } }))
        .then(() => { setF({ name: '', registrar: '', username: '', password: '' }); onAdded(); }, (err: Error) => setError(err.message));
    }}>
      {field('name', 'Name')}{field('registrar', 'Registrar (sip:host:port)')}{field('username', 'Username')}{field('password', 'Password', 'password')}
      <button type="submit">Add line</button>
      <ErrorLine error={error} />
    </form>
  );
}

function BindAgent({ line, agents, onBound }: { line: Line; agents: AgentRow[]; onBound: () => void }) {
  const [error, setError] = useState<string | null>(null);
  return (
    <>
      <select aria-label="agent" value={line.agent_id ?? ''} onChange={(e) => {
        const agent = e.target.value;
        setError(null);
        const done = agent
          ? data(api().POST('/agents/{agentId}/listen', { params: { path: { agentId: agent } }, body: { id: line.id } }))
          : data(api().DELETE('/agents/{agentId}/listen/{listenerId}', { params: { path: { agentId: line.agent_id!, listenerId: line.id } } }));
        done.then(onBound, (err: Error) => setError(err.message));
      }}>
        <option value="">(no agent)</option>
        {agents.map((a) => <option key={a.id} value={a.id}>{a.name}</option>)}
      </select>
      <ErrorLine error={error} />
    </>
  );
}

export function Lines() {
  const lines = useLoad(loadLines, []);
  const agents = useLoad<AgentRow[]>(() => data(api().GET('/api/agents', { params: { query: { limit: 1000, offset: 0 } } })), []);
  // When each line last heard from the engine: a reply to Activate that arrives after the line's
  // next state must not put the older state back.
  const heard = useRef(new Map<string, number>());
  useLiveEvents((e) => {
    if (e.type !== 'registration.updated') return;
    const d = e.data;
    heard.current.set(d.registration_id, performance.now());
    lines.set((rows) => rows?.map((l) => (l.id === d.registration_id ? { ...l, status: d.status, state: d.state, error: d.error ?? undefined } : l)) ?? rows);
  }, []);

  const act = (l: Line, what: 'activate' | 'disable') => async () => {
    const sent = performance.now();
    const path = { params: { path: { id: l.id } } };
    const r = await data(what === 'activate' ? api().POST('/phone-endpoints/{id}/activate', path) : api().POST('/phone-endpoints/{id}/disable', path));
    if ((heard.current.get(l.id) ?? 0) > sent) return;
    lines.set((rows) => rows?.map((x) => (x.id === l.id ? { ...x, status: r.status, state: r.state, error: undefined } : x)) ?? rows);
  };

  return (
    <Section title="Lines">
      <AddLine onAdded={lines.reload} />
      <ErrorLine error={lines.error} />
      {lines.data && (
        <Table testId="lines" rows={lines.data} rowKey={(l) => l.id} empty="No lines yet: add a PBX extension above." columns={[
          { title: 'Name', cell: (l) => l.name ?? '—' },
          { title: 'Registrar', cell: (l) => l.registrar },
          { title: 'User', cell: (l) => l.username },
          { title: 'Status', cell: (l) => <span data-testid="line-status">{l.status}</span> },
          { title: 'State', cell: (l) => <span className={`state state-${l.state}`} data-testid="line-state">{l.state}</span> },
          { title: 'Error', cell: (l) => <span data-testid="line-error">{l.error ?? ''}</span> },
          { title: 'Agent', cell: (l) => <BindAgent line={l} agents={agents.data ?? []} onBound={lines.reload} /> },
          {
            title: '', cell: (l) => (l.status === 'active'
              ? <Action label="Disable" run={act(l, 'disable')} />
              : <Action label="Activate" run={act(l, 'activate')} />),
          },
        ]} />
      )}
    </Section>
  );
}
