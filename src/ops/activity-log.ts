import type { Logger } from 'pino';
import type { DomainEvent } from '../events/catalog.js';

/**
 * One log line per line state change and per call start and end, from the transactions this
 * process committed (so several instances never log one change twice). Ids and states only:
 * no numbers dialled, no credentials.
 */
export function activityLog(logger: Logger): (e: DomainEvent) => void {
  const log = logger.child({ component: 'activity' });
  return (e) => {
    switch (e.type) {
      case 'registration.state':
        log.info({ tenant_id: e.tenantId, registration_id: e.data.registration_id, status: e.data.status, state: e.data.state, error: e.data.error }, 'line state changed');
        break;
      case 'call.started':
        log.info({ tenant_id: e.tenantId, call_sid: e.callSid, direction: e.data.direction, handler: e.data.handler ?? null, agent_id: e.data.agent_id }, 'call started');
        break;
      case 'call.ended':
        log.info({ tenant_id: e.tenantId, call_sid: e.callSid, status: e.data.status, duration: e.data.duration, end_reason: e.data.end_reason }, 'call ended');
        break;
      default:
        break;
    }
  };
}
