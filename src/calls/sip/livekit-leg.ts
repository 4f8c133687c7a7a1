/**
 * The `livekit` handler's leg: the INVITE goes to LiveKit SIP with its SDP untouched, addressed
 * to the agent's called user (which picks the agent's dispatch rule), with the trunk's digest
 * credentials for LiveKit's 407 and X-Dialtone-* headers that LiveKit turns into `sip.h.*`
 * participant attributes.
 */
import { livekitCalledUser, type LiveKit } from '../../livekit/index.js';
import { formatUri, parseUri } from '../../sip/index.js';
import type { Leg } from './ringing.js';

/** Where calls for a `livekit` agent go; null when LiveKit is not configured. */
export interface LiveKitPort {
  legFor(call: { agentId: string; tenantId: string; lineId: string | null; callSid: string }): Promise<Omit<Leg, 'from' | 'to'> & { to?: string } | null>;
}

export function liveKitPort(livekit: LiveKit): LiveKitPort {
  return {
    async legFor(call) {
      const trunk = await livekit.provisioner.ensureInboundTrunk();
      const uri = formatUri({ ...parseUri(livekit.config.sipUri), user: livekitCalledUser(call.agentId) });
      return {
        label: 'LiveKit SIP',
        uri,
        to: `<${uri}>`,
        credentials: { username: trunk.username, password: trunk.password },
        headers: {
          'X-Dialtone-Agent-Id': call.agentId,
          'X-Dialtone-Tenant-Id': call.tenantId,
          'X-Dialtone-Call-Id': call.callSid,
          ...(call.lineId ? { 'X-Dialtone-Line-Id': call.lineId } : {}),
        },
      };
    },
  };
}
