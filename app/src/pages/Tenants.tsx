/** Tenants, for the platform admin: list, add, and pick the one the dashboard acts for. */
import { useState } from 'react';
import { api, data } from '../api';
import { ErrorLine, Section, Table, useLoad, when } from '../ui';

export interface Tenant { id: string; name: string; subdomain: string | null; status: string; created_at: string; limits: { max_agents: number; max_concurrent_calls: number } }

export function Tenants({ current, onPick }: { current: string | null; onPick: (t: Tenant) => void }) {
  const list = useLoad<Tenant[]>(() => data(api().GET('/tenants')), []);
  const [name, setName] = useState('');
  const [error, setError] = useState<string | null>(null);
  return (
    <Section title="Tenants">
      <form className="inline-form" onSubmit={(e) => {
        e.preventDefault();
        setError(null);
        data(api().POST('/tenants', { body: { name } })).then(() => { setName(''); list.reload(); }, (err: Error) => setError(err.message));
      }}>
        <label>Name<input name="tenant-name" value={name} onChange={(e) => setName(e.target.value)} /></label>
        <button type="submit">Add tenant</button>
        <ErrorLine error={error} />
      </form>
      <ErrorLine error={list.error} />
      {list.data && (
        <Table testId="tenants" rows={list.data} rowKey={(t) => t.id} empty="No tenants yet." columns={[
          { title: 'Name', cell: (t) => t.name },
          { title: 'Subdomain', cell: (t) => t.subdomain ?? '—' },
          { title: 'Status', cell: (t) => t.status },
          { title: 'Agents / calls at most', cell: (t) => `${t.limits.max_agents} / ${t.limits.max_concurrent_calls}` },
          { title: 'Created', cell: (t) => when(t.created_at) },
          { title: '', cell: (t) => (t.id === current ? <strong>acting for</strong> : <button onClick={() => onPick(t)}>Act for</button>) },
        ]} />
      )}
    </Section>
  );
}
