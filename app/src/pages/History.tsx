/** Call history, newest first, paged by the API's limit/offset; a call opens with its transcript. */
import { useState } from 'react';
import { api, data } from '../api';
import { ErrorLine, Pager, Section, Table, useLoad, when } from '../ui';

interface HistoryCall { call_sid: string; direction: string; from_number: string; to_number: string; status: string; duration_seconds: number | null; started_at: string; end_reason: string | null; handler: string | null }
interface Detail { transcript: Array<{ role: string; text: string; interrupted: boolean }>; context: Record<string, unknown> }

export const HISTORY_PAGE = 10;

function CallTranscript({ sid }: { sid: string }) {
  const d = useLoad<Detail>(() => data(api().GET('/api/calls/{call_sid}', { params: { path: { call_sid: sid } } })), [sid]);
  return (
    <div className="call-panel" data-testid="history-detail">
      <h3>Call <code>{sid}</code></h3>
      <ErrorLine error={d.error} />
      {d.data && (d.data.transcript.length === 0
        ? <p className="empty">No transcript for this call.</p>
        : <ol className="transcript">{d.data.transcript.map((t, i) => <li key={i} className={`turn turn-${t.role}`}><span className="who">{t.role}</span> {t.text}</li>)}</ol>)}
    </div>
  );
}

export function History() {
  const [page, setPage] = useState(0);
  const [open, setOpen] = useState<string | null>(null);
  const list = useLoad<{ calls: HistoryCall[]; total: number; offset: number }>(() => data(api().GET('/api/calls/history', { params: { query: { limit: HISTORY_PAGE, offset: page * HISTORY_PAGE } } })), [page]);
  const total = list.data?.total ?? 0;
  // From the answer, not the page asked for: until the next page arrives, the rows shown are the last one's.
  const first = list.data?.offset ?? 0;
  return (
    <Section title="Call history">
      <ErrorLine error={list.error} />
      {list.data && <>
        <Table testId="history" rows={list.data.calls} rowKey={(c) => c.call_sid} empty="No calls yet." columns={[
          { title: 'Started', cell: (c) => when(c.started_at) },
          { title: 'Direction', cell: (c) => c.direction },
          { title: 'From', cell: (c) => c.from_number },
          { title: 'To', cell: (c) => c.to_number },
          { title: 'Status', cell: (c) => c.status },
          { title: 'Seconds', cell: (c) => c.duration_seconds ?? '—' },
          { title: 'Ended because', cell: (c) => c.end_reason ?? '—' },
          { title: '', cell: (c) => <button onClick={() => setOpen(open === c.call_sid ? null : c.call_sid)}>Transcript</button> },
        ]} />
        <Pager page={page} hasNext={first + HISTORY_PAGE < total} onPage={(p) => { setPage(p); setOpen(null); }}
          summary={total === 0 ? 'no calls' : `${first + 1}–${Math.min(first + HISTORY_PAGE, total)} of ${total}`} />
      </>}
      {open && <CallTranscript key={open} sid={open} />}
    </Section>
  );
}
