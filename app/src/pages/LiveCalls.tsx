/**
 * Live calls: the calls in progress, and for the one picked its transcript as it streams, its
 * context, and the supervisor's controls (say text, send digits, transfer, end).
 */
import { useRef, useState } from 'react';
import { api, data } from '../api';
import { useLinkState, useLiveEvents } from '../live';
import { Action, ErrorLine, Section, Table, useLoad, when } from '../ui';

interface ActiveCall { call_sid: string; agent_id: string | null; from_number: string; to_number: string; direction: string; call_status: string; started_at: string }
interface Turn { role: string; text: string; interrupted: boolean }
interface Detail { call_sid: string; status: string; end_reason: string | null; context: Record<string, unknown>; transcript: Turn[] }

function Transcript({ turns, partial }: { turns: Turn[]; partial: string | null }) {
  return (
    <ol className="transcript" data-testid="transcript">
      {turns.map((t, i) => (
        <li key={i} className={`turn turn-${t.role}`} data-role={t.role}>
          <span className="who">{t.role}</span> {t.text}{t.interrupted && <em> (cut short)</em>}
        </li>
      ))}
      {partial && <li className="turn turn-partial" data-testid="partial"><span className="who">caller…</span> {partial}</li>}
    </ol>
  );
}

function Supervise({ sid }: { sid: string }) {
  const [text, setText] = useState('');
  const [digits, setDigits] = useState('');
  const [target, setTarget] = useState('');
  const call_sid = sid;
  return (
    <div className="supervise" data-testid="supervise">
      <div><input aria-label="text to say" value={text} placeholder="Say to the caller…" onChange={(e) => setText(e.target.value)} />
        <Action label="Say" run={async () => { await data(api().POST('/api/override/text', { body: { call_sid, text } })); setText(''); }} /></div>
      <div><input aria-label="digits" value={digits} placeholder="0-9 * #" onChange={(e) => setDigits(e.target.value)} />
        <Action label="Send DTMF" run={() => data(api().POST('/api/override/dtmf', { body: { call_sid, digit: digits } }))} /></div>
      <div><input aria-label="transfer to" value={target} placeholder="+15551234567" onChange={(e) => setTarget(e.target.value)} />
        <Action label="Transfer" run={() => data(api().POST('/api/override/transfer', { body: { call_sid, target } }))} /></div>
      <div><Action label="End call" kind="danger" testId="end-call" run={() => data(api().POST('/api/override/end', { body: { call_sid } }))} /></div>
    </div>
  );
}

/** Adds one key to the call's context; the agent sees it from its next turn. The panel follows context.updated. */
function AddContext({ sid }: { sid: string }) {
  const [key, setKey] = useState('');
  const [value, setValue] = useState('');
  return (
    <div className="supervise">
      <div><input aria-label="context key" value={key} placeholder="key" onChange={(e) => setKey(e.target.value)} />
        <input aria-label="context value" value={value} placeholder="value" onChange={(e) => setValue(e.target.value)} />
        <Action label="Add to context" run={async () => {
          await data(api().PUT('/api/calls/{call_sid}/context', { params: { path: { call_sid: sid } }, body: { context: { [key]: value } } }));
          setKey('');
          setValue('');
        }} /></div>
    </div>
  );
}

function CallPanel({ sid }: { sid: string }) {
  const detail = useLoad<Detail>(() => data(api().GET('/api/calls/{call_sid}', { params: { path: { call_sid: sid } } })), [sid]);
  const [partial, setPartial] = useState<string | null>(null);
  const [ended, setEnded] = useState<string | null>(null);
  const loaded = useRef(detail.data);
  loaded.current = detail.data;
  useLiveEvents((e) => {
    if (e.call_sid !== sid) return;
    // Before the first load answers there is nothing to add to: load again, the turn is stored by now.
    if (!loaded.current && e.type !== 'transcript.partial') detail.reload();
    if (e.type === 'transcript.partial') setPartial(String(e.data.text ?? ''));
    if (e.type === 'transcript.final') {
      const t = e.data as unknown as Turn;
      setPartial(null);
      detail.set((d) => (d ? { ...d, transcript: [...d.transcript, t] } : d));
    }
    if (e.type === 'context.updated') detail.set((d) => (d ? { ...d, context: e.data.context as Record<string, unknown> } : d));
    if (e.type === 'call.ended') setEnded(String(e.data.end_reason ?? e.data.status ?? 'ended'));
  }, [sid]);
  const d = detail.data;
  const over = ended ?? (d && !['queued', 'ringing', 'in-progress'].includes(d.status) ? (d.end_reason ?? d.status) : null);
  return (
    <div className="call-panel" data-testid="call-panel">
      <h3>Call <code>{sid}</code></h3>
      <ErrorLine error={detail.error} />
      {over
        ? <p className="ended" data-testid="call-ended">Call ended: {over}</p>
        : <Supervise sid={sid} />}
      {d && <>
        <h4>Transcript</h4>
        <Transcript turns={d.transcript} partial={partial} />
        <h4>Context</h4>
        <pre className="context" data-testid="context">{JSON.stringify(d.context, null, 2)}</pre>
        {!over && <AddContext sid={sid} />}
      </>}
    </div>
  );
}

export function LiveCalls() {
  const calls = useLoad<ActiveCall[]>(() => data(api().GET('/api/calls/active')), []);
  const [picked, setPicked] = useState<string | null>(null);
  const link = useLinkState();
  useLiveEvents((e) => {
    // A call that starts or ends changes the list; its detail panel follows the events itself.
    if (e.type === 'call.started' || e.type === 'call.ended') calls.reload();
  }, []);
  return (
    <Section title="Live calls" actions={<span className={`link link-${link}`} data-testid="link-state">live: {link}</span>}>
      <ErrorLine error={calls.error} />
      {calls.data && (
        <Table testId="active-calls" rows={calls.data} rowKey={(c) => c.call_sid} empty="No calls in progress." columns={[
          { title: 'Started', cell: (c) => when(c.started_at) },
          { title: 'Direction', cell: (c) => c.direction },
          { title: 'From', cell: (c) => c.from_number },
          { title: 'To', cell: (c) => c.to_number },
          { title: 'Status', cell: (c) => c.call_status },
          { title: '', cell: (c) => <button onClick={() => setPicked(c.call_sid)}>{picked === c.call_sid ? 'Watching' : 'Watch'}</button> },
        ]} />
      )}
      {picked && <CallPanel key={picked} sid={picked} />}
    </Section>
  );
}
