/** Command-line parsing: positionals and `--flag value` / `--flag=value` / `--switch`. */

/** A mistake in how the command was called (exit code 2). */
export class UsageError extends Error {}

export interface Parsed {
  positionals: string[];
  flags: Map<string, string | true>;
}

/** `switches` never take a value, so `--json list` keeps `list` as a positional. */
export function parseArgs(argv: readonly string[], switches: ReadonlySet<string>): Parsed {
  const positionals: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') { positionals.push(...argv.slice(i + 1)); break; }
    if (a === '-h') { flags.set('help', true); continue; }
    if (!a.startsWith('--') || a === '--') { positionals.push(a); continue; }
    const eq = a.indexOf('=');
    const name = a.slice(2, eq === -1 ? undefined : eq);
    if (!/^[a-z][a-z0-9-]*$/.test(name)) throw new UsageError(`"${a}" is not a flag`);
    if (flags.has(name)) throw new UsageError(`--${name} is given twice`);
    if (eq !== -1) flags.set(name, a.slice(eq + 1));
    else if (switches.has(name)) flags.set(name, true);
    else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) flags.set(name, argv[++i]);
    else throw new UsageError(`--${name} needs a value`);
  }
  return { positionals, flags };
}

/** The flag's value; `required` makes a missing one a usage error. */
export function flag(p: Parsed, name: string, required: true): string;
export function flag(p: Parsed, name: string, required?: false): string | undefined;
export function flag(p: Parsed, name: string, required = false): string | undefined {
  const v = p.flags.get(name);
  if (v === true) throw new UsageError(`--${name} needs a value`);
  if (v === undefined && required) throw new UsageError(`--${name} is required`);
  return v;
}

export function intFlag(p: Parsed, name: string): number | undefined {
  const v = flag(p, name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`--${name} must be a whole number, got "${v}"`);
  return Number(v);
}

/** The positional at `index` (after the command words), named in the error when missing. */
export function arg(p: Parsed, index: number, name: string): string {
  const v = p.positionals[index];
  if (v === undefined) throw new UsageError(`<${name}> is missing`);
  return v;
}
