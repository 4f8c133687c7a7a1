/** The shell: sign-in gate, navigation (hash routes, so the server serves one page), tenant picker. */
import { lazy, Suspense, useEffect, useState } from 'react';
import { saveSession, loadSession, useSessionStore, type Session } from './api';
import { connectEvents } from './live';
import { SignIn } from './pages/SignIn';
import { Lines } from './pages/Lines';
import { Agents } from './pages/Agents';
import { Numbers } from './pages/Numbers';
import { Trunks } from './pages/Trunks';
import { LiveCalls } from './pages/LiveCalls';
import { History } from './pages/History';
import { Tenants, type Tenant } from './pages/Tenants';

// The charts library is most of the bundle: loaded when Analytics is first opened.
const Analytics = lazy(() => import('./pages/Analytics').then((m) => ({ default: m.Analytics })));

const PAGES = [
  ['lines', 'Lines'], ['agents', 'Agents'], ['numbers', 'Numbers'], ['trunks', 'Trunks & credentials'],
  ['calls', 'Live calls'], ['history', 'History'], ['analytics', 'Analytics'],
] as const;
type PageId = (typeof PAGES)[number][0] | 'tenants';

const pageFromHash = (): PageId => {
  const id = location.hash.replace(/^#\/?/, '');
  return (id === 'tenants' || PAGES.some(([p]) => p === id) ? id : 'lines') as PageId;
};

export function App() {
  const [session, setSession] = useState<Session | null>(loadSession);
  const [page, setPage] = useState<PageId>(pageFromHash);
  const [tenantName, setTenantName] = useState<string | null>(null);

  const update = (s: Session | null) => {
    saveSession(s);
    setSession(s);
  };
  useSessionStore(session, () => update(null));
  useEffect(() => { connectEvents(session); }, [session]);
  useEffect(() => {
    const onHash = () => setPage(pageFromHash());
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);

  if (!session) return <SignIn onSignedIn={(s) => { update(s); location.hash = s.admin ? '#/tenants' : '#/lines'; }} />;

  const needsTenant = session.admin && !session.tenantId;
  const shown: PageId = needsTenant ? 'tenants' : page;
  const pick = (t: Tenant) => { setTenantName(t.name); update({ ...session, tenantId: t.id }); location.hash = '#/lines'; };

  return (
    <div className="shell">
      <nav>
        <strong className="brand">Dialtone</strong>
        {session.manager && PAGES.map(([id, label]) => (
          <a key={id} href={`#/${id}`} className={shown === id ? 'current' : ''} aria-disabled={needsTenant}>{label}</a>
        ))}
        {session.admin && <a href="#/tenants" className={shown === 'tenants' ? 'current' : ''}>Tenants</a>}
        <span className="who" data-testid="who">
          {session.label}{session.admin && (session.tenantId ? ` · acting for ${tenantName ?? session.tenantId}` : ' · pick a tenant')}
        </span>
        <button onClick={() => { update(null); location.hash = ''; }}>Sign out</button>
      </nav>
      <main>
        {!session.manager && <p className="hint">This login is a plain agent's: it may only read itself and set its own status, so there is nothing here for it to manage.</p>}
        {session.manager && <>
          {shown === 'tenants' && <Tenants current={session.tenantId} onPick={pick} />}
          {shown === 'lines' && <Lines />}
          {shown === 'agents' && <Agents />}
          {shown === 'numbers' && <Numbers />}
          {shown === 'trunks' && <Trunks />}
          {shown === 'calls' && <LiveCalls />}
          {shown === 'history' && <History />}
          {shown === 'analytics' && <Suspense fallback={<p className="empty">Loading charts…</p>}><Analytics /></Suspense>}
        </>}
      </main>
    </div>
  );
}
