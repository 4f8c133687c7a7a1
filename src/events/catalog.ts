/**
 * Every domain event, by type, with the payload its publisher sends and its subscribers read.
 * Publishers (services, the call runtime), the bus, the registration engine, the events
 * WebSocket and analytics all use these types: adding an event means adding it here.
 *
 * The payload keys are snake_case because they go out unchanged on `/events/ws`.
 */

export type RegistrationStateName = 'initial' | 'registering' | 'registered' | 'failed';
export type RegistrationStatusName = 'active' | 'failed' | 'disabled';

interface RegistrationRef { registration_id: string; generation: number }
interface PhoneNumberRef { phone_number_id: string; phone_number: string }

export interface EventPayloads {
  'tenant.created': { tenant_id: string };
  'tenant.updated': { tenant_id: string };

  'agent.created': { agent_id: string };
  'agent.updated': { agent_id: string };
  'agent.deleted': { agent_id: string };

  'tag.created': { tag_id: string };
  'tag.updated': { tag_id: string };
  'tag.deleted': { tag_id: string };

  'trunk.created': { trunk_id: string; trunk_type: string };
  'trunk.deleted': { trunk_id: string };

  'provider_credential.created': { credentials_id: string; provider: string };
  'provider_credential.deleted': { credentials_id: string };

  'phone_number.created': PhoneNumberRef & { agent_id: string | null };
  'phone_number.updated': PhoneNumberRef & { agent_id: string | null; previous_agent_id: string | null };
  'phone_number.deleted': PhoneNumberRef;

  'registration.created': RegistrationRef;
  /** The registrar, credentials or options changed (the generation moved). */
  'registration.updated': RegistrationRef;
  'registration.activated': RegistrationRef;
  'registration.disabled': RegistrationRef;
  'registration.deleted': RegistrationRef;
  'registration.listener_bound': { registration_id: string; agent_id: string | null; previous_agent_id: string | null };
  /** The engine reported a new state for the line. */
  'registration.state': { registration_id: string; status: RegistrationStatusName; state: RegistrationStateName; error: string | null };

  /** `handler`: who answers a SIP call (livekit, sip, dialtone, relay); null for Twilio calls. */
  'call.started': { agent_id: string | null; direction: string; from_number: string; to_number: string; status: string; handler?: string | null };
  'call.updated': { agent_id: string | null; status: string; duration?: number | null; cost?: number | null };
  'call.ended': { agent_id: string | null; status: string; duration: number | null; end_reason: string | null; cost: number | null };
  'context.updated': { context: Record<string, unknown> };
  'transcript.partial': { text: string };
  'transcript.final': { role: string; text: string; interrupted: boolean };
  'error': { message: string };
}

export type EventType = keyof EventPayloads;

/** One event of type `T` (or, without `T`, any event: a union discriminated by `type`). */
export type DomainEvent<T extends EventType = EventType> = {
  [K in T]: {
    type: K;
    tenantId: string;
    callSid?: string;
    /** ISO 8601, from the publisher's clock. */
    timestamp: string;
    data: EventPayloads[K];
  };
}[T];

/**
 * Events that describe a committed change go through the outbox, so a crash after the commit
 * cannot lose them. The rest narrate a live call as it happens (a partial transcript, a passing
 * error): they are worth nothing after a restart and are published directly.
 */
const EPHEMERAL: ReadonlySet<EventType> = new Set<EventType>(['transcript.partial', 'error']);

export function isDurable(type: EventType): boolean {
  return !EPHEMERAL.has(type);
}

