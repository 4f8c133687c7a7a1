/** What a command prints: JSON for scripts (`--json`), an aligned table or key/value list for people. */
export interface Output {
  json: boolean;
  /** A list: one row per item, the named columns. */
  table(rows: readonly Record<string, unknown>[], columns: readonly string[]): void;
  /** One item: its fields one per line (or the whole object as JSON). */
  item(value: Record<string, unknown>, fields?: readonly string[]): void;
  /** A sentence for people; as `{message}` in JSON. */
  done(message: string, extra?: Record<string, unknown>): void;
  /** One streamed record: a JSON line, or a line of text. */
  line(value: unknown, text: string): void;
  /** A word to the person watching, on stderr: never mixed into what a script reads. */
  note(message: string): void;
}

const cell = (v: unknown): string => {
  if (v === null || v === undefined) return '-';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
};

export function output(json: boolean, write: (s: string) => void, writeErr: (s: string) => void): Output {
  return {
    json,
    table(rows, columns) {
      if (json) return write(`${JSON.stringify(rows, null, 2)}\n`);
      if (rows.length === 0) return write('(none)\n');
      const cells = rows.map((r) => columns.map((c) => cell(r[c])));
      const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i].length)));
      const fmt = (vals: string[]) => vals.map((v, i) => v.padEnd(widths[i])).join('  ').trimEnd();
      write(`${[fmt(columns.map((c) => c.toUpperCase())), ...cells.map(fmt)].join('\n')}\n`);
    },
    item(value, fields) {
      if (json) return write(`${JSON.stringify(value, null, 2)}\n`);
      const keys = fields ?? Object.keys(value);
      const width = Math.max(...keys.map((k) => k.length));
      write(`${keys.filter((k) => value[k] !== undefined).map((k) => `${k.padEnd(width)}  ${cell(value[k])}`).join('\n')}\n`);
    },
    done(message, extra = {}) {
      write(json ? `${JSON.stringify({ message, ...extra })}\n` : `${message}\n`);
    },
    line(value, text) {
      write(json ? `${JSON.stringify(value)}\n` : `${text}\n`);
    },
    note(message) {
      writeErr(`${message}\n`);
    },
  };
}
