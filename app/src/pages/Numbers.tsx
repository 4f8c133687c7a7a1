/** Phone numbers bound to carrier credentials and agents (the telephony API). */
import { useState } from 'react';
import { api, page as paged } from '../api';
import { ErrorLine, Pager, Section, Table, useLoad, when } from '../ui';

interface PhoneNumber { id: string; e164: string; provider: string | null; credentials_id: string | null; agent_id: string | null; inbound_enabled: boolean; outbound_enabled: boolean; created_at: string }

const PAGE = 50;

export function Numbers() {
  const [page, setPage] = useState(0);
  const list = useLoad<{ body: { numbers: PhoneNumber[] }; hasNext: boolean }>(() => paged(api().GET('/api/v1/telephony/numbers', { params: { query: { limit: PAGE, offset: page * PAGE } } })), [page]);
  return (
    <Section title="Numbers">
      <ErrorLine error={list.error} />
      {list.data && <>
        <Table testId="numbers" rows={list.data.body.numbers} rowKey={(n) => n.id} empty="No numbers." columns={[
          { title: 'Number', cell: (n) => n.e164 },
          { title: 'Carrier', cell: (n) => n.provider ?? '—' },
          { title: 'Credential', cell: (n) => n.credentials_id ?? '—' },
          { title: 'Agent', cell: (n) => n.agent_id ?? '—' },
          { title: 'Inbound', cell: (n) => (n.inbound_enabled ? 'on' : 'off') },
          { title: 'Outbound', cell: (n) => (n.outbound_enabled ? 'on' : 'off') },
          { title: 'Added', cell: (n) => when(n.created_at) },
        ]} />
        <Pager page={page} hasNext={list.data.hasNext} onPage={setPage} />
      </>}
    </Section>
  );
}
