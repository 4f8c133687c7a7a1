/**
 * Reads a V8 heap snapshot (the `.heapsnapshot` JSON that `--heapsnapshot-signal` writes) into
 * live-object counts and bytes per kind: objects by constructor, closures by function name, the
 * rest by node type. Two of them, taken after the same warm-up and idle, show what accumulates.
 */
import { readFileSync } from 'node:fs';

export interface HeapCensus {
  totalBytes: number;
  byKind: Map<string, { count: number; bytes: number }>;
}

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

export function readHeapCensus(file: string): HeapCensus {
  const snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const byKind = new Map<string, { count: number; bytes: number }>();
  let totalBytes = 0;
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + typeAt]!]!;
    const named = type === 'object' || type === 'closure';
    const kind = named ? `${type} ${snap.strings[snap.nodes[i + nameAt]!]}` : `(${type})`;
    const size = snap.nodes[i + sizeAt]!;
    const entry = byKind.get(kind) ?? { count: 0, bytes: 0 };
    entry.count++;
    entry.bytes += size;
    byKind.set(kind, entry);
    totalBytes += size;
  }
  return { totalBytes, byKind };
}

/** Kinds that grew between two censuses, most bytes first. */
export function heapGrowth(before: HeapCensus, after: HeapCensus, top = 10): Array<{ kind: string; count: number; bytes: number }> {
  const rows: Array<{ kind: string; count: number; bytes: number }> = [];
  for (const [kind, a] of after.byKind) {
    const b = before.byKind.get(kind) ?? { count: 0, bytes: 0 };
    if (a.bytes > b.bytes) rows.push({ kind, count: a.count - b.count, bytes: a.bytes - b.bytes });
  }
  return rows.sort((x, y) => y.bytes - x.bytes).slice(0, top);
}
