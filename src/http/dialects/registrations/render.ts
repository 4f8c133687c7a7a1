import type { NumberEndpoint, PhoneEndpoint, Registration } from '../../../domain/registrations.js';
import type { Problem } from '../../errors.js';
import type { EndpointView } from './schemas.js';

/** The registration as clients see it: optional fields only when set, never the password. */
export function renderRegistration(r: Registration): EndpointView {
  return {
    id: r.id,
    type: 'phone-registration' as const,
    handler: r.handler,
    status: r.status,
    state: r.state,
    ...(r.error !== null ? { error: r.error } : {}),
    ...(r.name !== null ? { name: r.name } : {}),
    registrar: r.registrar,
    username: r.username,
    outbound: r.outbound,
    options: r.options,
    agent_id: r.listenerAgentId,
  };
}

/** A number answers with the handler of the agent listening on it, when that agent names one. */
export function renderNumber(n: NumberEndpoint): EndpointView {
  return {
    id: n.id,
    type: 'e164-ddi' as const,
    number: n.number,
    ...(n.name !== null ? { name: n.name } : {}),
    ...(n.agentHandler !== null ? { handler: n.agentHandler } : {}),
    agent_id: n.agentId,
  };
}

export function renderEndpoint(e: PhoneEndpoint): EndpointView {
  return e.kind === 'registration' ? renderRegistration(e.registration) : renderNumber(e.number);
}

export function endpointId(e: PhoneEndpoint): string {
  return e.kind === 'registration' ? e.registration.id : e.number.id;
}

export function renderStatus(r: Registration) {
  return { success: true as const, id: r.id, status: r.status, state: r.state };
}

export function renderProblem(p: Problem) {
  return { success: false as const, error: p.message };
}
