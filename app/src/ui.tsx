/** Small pieces every page uses: loading a resource, tables, error lines, buttons that wait. */
import { useCallback, useEffect, useRef, useState, type ReactNode } from 'react';

export interface Loaded<T> {
  data: T | null;
  error: string | null;
  loading: boolean;
  reload: () => void;
  set: (fn: (d: T | null) => T | null) => void;
}

/** Runs `load` on mount and whenever `deps` change; keeps only the latest answer. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const seq = useRef(0);
  useEffect(() => {
    const mine = ++seq.current;
    setLoading(true);
    load().then(
      (d) => { if (mine === seq.current) { setData(d); setError(null); setLoading(false); } },
      (e: Error) => { if (mine === seq.current) { setError(e.message); setLoading(false); } },
    );
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload, set: setData };
}

export function ErrorLine({ error }: { error: string | null }) {
  return error ? <p className="error" role="alert">{error}</p> : null;
}

/** A button that runs an async action, is disabled while it runs, and shows its failure beside it. */
export function Action({ label, run, kind, testId }: { label: string; run: () => Promise<unknown>; kind?: 'danger'; testId?: string }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  return (
    <span className="action">
      <button className={kind} disabled={busy} data-testid={testId} onClick={() => {
        setBusy(true);
        setError(null);
        run().catch((e: Error) => setError(e.message)).finally(() => setBusy(false));
      }}>{label}</button>
      {error && <span className="error" role="alert">{error}</span>}
    </span>
  );
}

export interface Column<T> {
  title: string;
  cell: (row: T) => ReactNode;
}

export function Table<T>({ rows, columns, rowKey, empty, testId }: { rows: T[]; columns: Column<T>[]; rowKey: (r: T) => string; empty: string; testId?: string }) {
  if (rows.length === 0) return <p className="empty">{empty}</p>;
  return (
    <table data-testid={testId}>
      <thead><tr>{columns.map((c) => <th key={c.title}>{c.title}</th>)}</tr></thead>
      <tbody>
        {rows.map((r) => <tr key={rowKey(r)} data-row={rowKey(r)}>{columns.map((c) => <td key={c.title}>{c.cell(r)}</td>)}</tr>)}
      </tbody>
    </table>
  );
}

export function Pager({ page, hasNext, onPage, summary }: { page: number; hasNext: boolean; onPage: (p: number) => void; summary?: string }) {
  return (
    <div className="pager">
      <button disabled={page === 0} onClick={() => onPage(page - 1)}>Previous</button>
      <span data-testid="page-summary">{summary ?? `page ${page + 1}`}</span>
      <button disabled={!hasNext} onClick={() => onPage(page + 1)}>Next</button>
    </div>
  );
}

export function Section({ title, children, actions }: { title: string; children: ReactNode; actions?: ReactNode }) {
  return (
    <section>
      <header className="section-head"><h2>{title}</h2>{actions}</header>
      {children}
    </section>
  );
}

export const when = (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleString() : '—');
