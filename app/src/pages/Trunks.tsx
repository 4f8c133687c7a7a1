/**
 * SIP trunks and carrier credentials. The APIs never answer a secret (trunk passwords, auth
 * tokens), and this page has no field that could show one: only names, addresses and ids.
 */
import { useState } from 'react';
import { api, data, page as paged } from '../api';
import { ErrorLine, Pager, Section, Table, useLoad, when } from '../ui';

interface Trunk { trunk_id: string; trunk_name: string; trunk_address: string; trunk_numbers: string[]; trunk_type: string; trunk_created_at: string }
interface Credential { id: string; provider: string; label: string; created_at: string }

const PAGE = 50;

export function Trunks() {
  const [page, setPage] = useState(0);
  const trunks = useLoad<{ body: { data: Trunk[] }; hasNext: boolean }>(() => paged(api().GET('/sip/list', { params: { query: { limit: PAGE, offset: page * PAGE } } })), [page]);
  const creds = useLoad<{ providers: Credential[] }>(() => data(api().GET('/api/v1/telephony/providers')), []);
  return (
    <>
      <Section title="SIP trunks">
        <ErrorLine error={trunks.error} />
        {trunks.data && <>
          <Table testId="trunks" rows={trunks.data.body.data} rowKey={(t) => t.trunk_id} empty="No trunks." columns={[
            { title: 'Name', cell: (t) => t.trunk_name },
            { title: 'Type', cell: (t) => t.trunk_type },
            { title: 'Address', cell: (t) => t.trunk_address },
            { title: 'Numbers', cell: (t) => t.trunk_numbers.join(', ') || '—' },
            { title: 'Created', cell: (t) => t.trunk_created_at },
          ]} />
          <Pager page={page} hasNext={trunks.data.hasNext} onPage={setPage} />
        </>}
      </Section>
      <Section title="Carrier credentials">
        <p className="hint">Secrets are stored encrypted and never shown; to change one, add a new credential and move the numbers to it.</p>
        <ErrorLine error={creds.error} />
        {creds.data && (
          <Table testId="credentials" rows={creds.data.providers} rowKey={(c) => c.id} empty="No carrier credentials." columns={[
            { title: 'Label', cell: (c) => c.label },
            { title: 'Carrier', cell: (c) => c.provider },
            { title: 'Id', cell: (c) => <code>{c.id}</code> },
            { title: 'Added', cell: (c) => when(c.created_at) },
          ]} />
        )}
      </Section>
    </>
  );
}
