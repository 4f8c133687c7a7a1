/** Agents of both kinds: AI agents (deployment API) and people (agents v1.0). */
import { useState } from 'react';
import { api, data, page as paged } from '../api';
import { ErrorLine, Pager, Section, Table, useLoad, when } from '../ui';

interface AiAgent { id: string; name: string; type: string; status: string; phone_number: string | null; voice: string; total_calls: number; total_minutes: number; created_at: string }
interface Person { id: string; username: string; name: string; status: string; permission: number; addresses: Array<{ type: string; target: string }>; direct_uri: string }

const PAGE = 25;

function NewAiAgent({ onAdded }: { onAdded: () => void }) {
  const [name, setName] = useState('');
  const [prompt, setPrompt] = useState('');
  const [error, setError] = useState<string | null>(null);
  return (
    <form className="inline-form" onSubmit={(e) => {
      e.preventDefault();
      setError(null);
      data(api().POST('/api/agents', { body: { name, system_prompt: prompt || undefined } }))
        .then(() => { setName(''); setPrompt(''); onAdded(); }, (err: Error) => setError(err.message));
    }}>
      <label>Name<input name="agent-name" value={name} onChange={(e) => setName(e.target.value)} /></label>
      <label>System prompt<input name="agent-prompt" value={prompt} onChange={(e) => setPrompt(e.target.value)} /></label>
      <button type="submit">Add AI agent</button>
      <ErrorLine error={error} />
    </form>
  );
}

function AiAgents() {
  const [page, setPage] = useState(0);
  const list = useLoad<{ body: AiAgent[]; hasNext: boolean }>(() => paged(api().GET('/api/agents', { params: { query: { limit: PAGE, offset: page * PAGE } } })), [page]);
  return (
    <Section title="AI agents">
      <NewAiAgent onAdded={list.reload} />
      <ErrorLine error={list.error} />
      {list.data && <>
        <Table testId="ai-agents" rows={list.data.body} rowKey={(a) => a.id} empty="No AI agents." columns={[
          { title: 'Name', cell: (a) => a.name },
          { title: 'Kind', cell: (a) => a.type },
          { title: 'Status', cell: (a) => a.status },
          { title: 'Number', cell: (a) => a.phone_number ?? '—' },
          { title: 'Voice', cell: (a) => a.voice },
          { title: 'Calls', cell: (a) => a.total_calls },
          { title: 'Minutes', cell: (a) => a.total_minutes.toFixed(1) },
          { title: 'Created', cell: (a) => when(a.created_at) },
        ]} />
        <Pager page={page} hasNext={list.data.hasNext} onPage={setPage} />
      </>}
    </Section>
  );
}

function People() {
  // agents v1.0 pages by token: remember the tokens of the pages already seen, to go back.
  const [tokens, setTokens] = useState<string[]>(['']);
  const [page, setPage] = useState(0);
  const list = useLoad<{ result: Person[]; next_page_token: string }>(() => data(api().GET('/v1.0/agents', { params: { query: { page_size: PAGE, page_token: tokens[page] || undefined } } })), [page]);
  const next = list.data?.next_page_token ?? '';
  return (
    <Section title="People">
      <ErrorLine error={list.error} />
      {list.data && <>
        <Table testId="people" rows={list.data.result} rowKey={(p) => p.id} empty="No people." columns={[
          { title: 'Name', cell: (p) => p.name },
          { title: 'Username', cell: (p) => p.username },
          { title: 'Presence', cell: (p) => p.status },
          { title: 'Permission', cell: (p) => p.permission },
          { title: 'Addresses', cell: (p) => p.addresses.map((a) => a.target).join(', ') || '—' },
          { title: 'Direct SIP URI', cell: (p) => p.direct_uri },
        ]} />
        <Pager page={page} hasNext={next !== '' && list.data.result.length === PAGE} onPage={(p) => {
          if (p > page && tokens.length <= p) setTokens([...tokens, next]);
          setPage(p);
        }} />
      </>}
    </Section>
  );
}

export function Agents() {
  return <><AiAgents /><People /></>;
}
