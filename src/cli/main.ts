/**
 * `dialtone`, the command line for people and scripts, on the generated client (src/client).
 * Exit codes: 0 done, 1 the server refused (its reason on stderr), 2 a usage mistake, 3 the
 * server could not be reached, 4 a watch ran out of time.
 */
import { createDialtoneClient } from '../client/index.js';
import { UsageError, parseArgs } from './args.js';
import { ApiError, TimeoutError, type Command, type Ctx } from './context.js';
import { output } from './output.js';
import { resolveSettings } from './settings.js';
import { bootstrapCommands } from './commands/bootstrap.js';
import { keyCommands } from './commands/keys.js';
import { lineCommands } from './commands/lines.js';
import { agentCommands } from './commands/agents.js';
import { numberCommands } from './commands/numbers.js';
import { callCommands } from './commands/calls.js';

const COMMANDS: Command[] = [...bootstrapCommands, ...keyCommands, ...lineCommands, ...agentCommands, ...numberCommands, ...callCommands];
const GLOBAL_FLAGS = ['url', 'api-key', 'account', 'profile'];
const GLOBAL_SWITCHES = ['json', 'help'];

const GLOBAL_HELP = `Global flags:
  --url URL          the server (DIALTONE_URL, the profile's url; default http://localhost:8080)
  --api-key KEY      API key or login token (DIALTONE_API_KEY, the profile's apiKey)
  --account TENANT   platform admin: act for this tenant (DIALTONE_ACCOUNT_ID)
  --profile NAME     a profile of the profile file (DIALTONE_PROFILE; default "default")
  --json             JSON for scripts instead of tables
Exit codes: 0 ok, 1 refused by the server, 2 usage, 3 server unreachable, 4 timed out`;

function help(): string {
  const width = Math.max(...COMMANDS.map((c) => c.words.join(' ').length));
  return `Usage: dialtone <command> [flags]\n\n${COMMANDS.map((c) => `  ${c.words.join(' ').padEnd(width)}  ${c.summary}`).join('\n')}\n\n${GLOBAL_HELP}\n`;
}

function find(positionals: string[]): Command | undefined {
  return COMMANDS.find((c) => c.words.every((w, i) => positionals[i] === w));
}

export async function run(argv: string[], env: NodeJS.ProcessEnv, io: { out: (s: string) => void; err: (s: string) => void }): Promise<number> {
  // A guess before parsing, so even a flag mistake is answered with the command's usage.
  let command: Command | undefined = find(argv.filter((a) => !a.startsWith('-')));
  try {
    const switches = new Set([...GLOBAL_SWITCHES, ...COMMANDS.flatMap((c) => c.switches ?? [])]);
    const parsed = parseArgs(argv, switches);
    command = find(parsed.positionals);
    if (!command) {
      if (parsed.positionals.length === 0 || parsed.flags.get('help') === true || parsed.positionals[0] === 'help') {
        io.out(help());
        return parsed.positionals.length === 0 && parsed.flags.get('help') !== true ? 2 : 0;
      }
      throw new UsageError(`unknown command "${parsed.positionals.join(' ')}"`);
    }
    if (parsed.flags.get('help') === true) {
      io.out(`Usage: ${command.usage}\n  ${command.summary}\n\n${GLOBAL_HELP}\n`);
      return 0;
    }
    const allowed = new Set([...GLOBAL_FLAGS, ...GLOBAL_SWITCHES, ...(command.flags ?? []), ...(command.switches ?? [])]);
    for (const name of parsed.flags.keys()) {
      if (!allowed.has(name)) throw new UsageError(`--${name} is not a flag of "${command.words.join(' ')}"`);
    }
    const args = { positionals: parsed.positionals.slice(command.words.length), flags: parsed.flags };
    const settings = resolveSettings(parsed, env);
    const client = (o: { apiKey?: string | null; accountId?: string | null }) =>
      createDialtoneClient({ baseUrl: settings.url, apiKey: o.apiKey ?? null, accountId: o.accountId ?? null });
    const ctx: Ctx = {
      api: client({ apiKey: settings.apiKey, accountId: settings.accountId }),
      settings, args, out: output(parsed.flags.get('json') === true, io.out, io.err), client,
    };
    await command.run(ctx);
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`dialtone: ${err.message}\n${command ? `usage: ${command.usage}\n` : 'run "dialtone help" for the commands\n'}`);
      return 2;
    }
    if (err instanceof ApiError) {
      io.err(`dialtone: ${err.status ? `${err.status}: ` : ''}${err.message}\n`);
      return 1;
    }
    if (err instanceof TimeoutError) {
      io.err(`dialtone: ${err.message}\n`);
      return 4;
    }
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as { code?: string }).code;
    if (err instanceof TypeError || cause === 'ECONNREFUSED' || cause === 'ENOTFOUND' || cause === 'ECONNRESET') {
      io.err(`dialtone: cannot reach the server${cause ? ` (${cause})` : ''}: ${(err as Error).message}\n`);
      return 3;
    }
    io.err(`dialtone: ${(err as Error).stack ?? String(err)}\n`);
    return 1;
  }
}
