/**
 * The `sip` handler's legs: a person's addresses as SIP destinations. `sip` addresses are dialled
 * directly (SRV/A), `extension`s at the registrar of the tenant's line with that line's
 * credentials, `tel` numbers through the tenant's outbound trunk with the trunk's credentials.
 */
import type { Logger } from 'pino';
import type { AgentAddress } from '../../domain/agent-directory.js';
import type { Scope } from '../../domain/principal.js';
import type { Registration } from '../../domain/registrations.js';
import type { Services } from '../../domain/services.js';
import { addressOfRecord, registerTarget } from '../../registration/target.js';
import { formatHost, formatUri, parseUri } from '../../sip/index.js';
import type { Leg } from './ringing.js';
import { trunkLeg } from './trunk-legs.js';

export interface PeopleContext {
  scope: Scope;
  addresses: readonly AgentAddress[];
  /** The line the call came in on: extensions are dialled on its PBX first. */
  lineId: string | null;
  /** May `tel` addresses be rung through the tenant's trunk (the INVITE came from a trusted source)? */
  mayUseTrunk: boolean;
  /** What the callee's phone shows. */
  callerName: string | undefined;
  callerUser: string;
  publicHost: string;
  headers: Record<string, string>;
}

function displayFrom(name: string | undefined, user: string, host: string): string {
  const shown = name ? `"${name.replace(/["\\\r\n]/g, '')}" ` : '';
  const u = /^[A-Za-z0-9+._-]{1,64}$/.test(user) ? user : 'anonymous';
  return `${shown}<sip:${u}@${formatHost(host)}>`;
}

/** The line whose PBX an extension is dialled on: the call's own, else the tenant's first active one. */
function pbxLine(lines: Registration[], lineId: string | null): Registration | undefined {
  const active = lines.filter((l) => l.status === 'active');
  return active.find((l) => l.id === lineId) ?? active[0];
}

export async function peopleLegs(services: Services, ctx: PeopleContext, logger: Logger): Promise<Leg[]> {
  const legs: Leg[] = [];
  let lines: Registration[] | undefined;
  for (const a of ctx.addresses) {
    if (a.type === 'sip') {
      legs.push({
        label: `sip:${a.target}`, uri: `sip:${a.target}`, to: `<sip:${a.target}>`,
        from: displayFrom(ctx.callerName, ctx.callerUser, ctx.publicHost), headers: ctx.headers,
      });
    } else if (a.type === 'extension') {
      lines ??= await services.registrations.linesOf(ctx.scope);
      const line = pbxLine(lines, ctx.lineId);
      if (!line) {
        logger.info({ extension: a.target }, 'no active line to dial an extension on; skipped');
        continue;
      }
      const withSecret = await services.registrations.getForEngine(line.id);
      if (!withSecret) continue;
      const target = registerTarget(line.registrar, line.options);
      const uri = formatUri({ ...parseUri(target.requestUri), user: a.target });
      const authUser = typeof line.options.auth_username === 'string' ? line.options.auth_username : line.username;
      legs.push({
        label: `extension ${a.target}`, uri, to: `<${addressOfRecord(a.target, target.domain)}>`, transport: target.transport,
        from: `<${addressOfRecord(line.username, target.domain)}>`,
        credentials: { username: authUser, password: withSecret.password }, headers: ctx.headers,
      });
    } else if (ctx.mayUseTrunk) {
      const leg = await trunkLeg(services, ctx.scope, null, a.target, ctx.headers);
      if (leg) legs.push({ ...leg.leg, label: `tel ${a.target}` });
      else logger.info({ tel: a.target }, 'no trunk to ring a tel address through; skipped');
    } else {
      logger.info({ tel: a.target }, 'tel address not rung: the call did not come from a trusted source');
    }
  }
  return legs;
}
