/**
 * The database as Kysely sees it. One table per aggregate; every tenant-owned row carries tenant_id.
 * Portable across SQLite and PostgreSQL: booleans are 0/1 integers, JSON is text, timestamps are
 * ISO-8601 UTC text (sortable, and substr() gives hour/date in both dialects for analytics).
 */
export interface TenantTable {
  id: string;
  name: string;
  subdomain: string | null;
  status: string; // trial | active | suspended
  max_agents: number;
  max_concurrent_calls: number;
  billing_email: string | null;
  created_at: string;
  updated_at: string;
}

export interface ApiKeyTable {
  id: string;
  tenant_id: string | null; // null only for the platform admin
  kind: string; // admin | access | login
  name: string;
  detail: string;
  token_prefix: string;
  token_hash: string;
  permission: number;
  agent_id: string | null; // login tokens act as this agent
  expires_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface AgentTable {
  id: string;
  tenant_id: string;
  name: string;
  detail: string;
  kind: string; // inbound | outbound (deployment "type")
  system_prompt: string;
  voice: string;
  language: string;
  greeting: string;
  personality: string; // Phony's; '' by default, added to the prompt when set
  llm_model: string | null;
  context_data: string; // JSON object
  deploy_status: string; // active | inactive (deployment "status")
  username: string | null;
  password_hash: string | null;
  presence: string; // available | away | busy | offline | ringing (agents v1.0 "status")
  ring_method: string; // ringall | linear
  permission: number;
  direct_hash: string | null;
  handler: string | null;
  voice_engine: string | null; // realtime | pipeline | offline; null follows VOICE_ENGINE
  total_calls: number;
  total_minutes: number;
  created_at: string;
  updated_at: string;
}

export interface AgentAddressTable {
  id: string;
  tenant_id: string;
  agent_id: string;
  type: string; // tel | extension | sip
  target: string;
  position: number;
}

export interface TagTable {
  id: string;
  tenant_id: string;
  name: string;
  detail: string;
  created_at: string;
  updated_at: string;
}

export interface AgentTagTable {
  tenant_id: string;
  agent_id: string;
  tag_id: string;
}

export interface ProviderCredentialTable {
  id: string;
  tenant_id: string;
  provider: string; // twilio | plivo | vobiz
  label: string;
  sealed_credentials: string; // vault envelope of the credentials JSON
  account_ref: string | null; // public account identifier (Twilio AccountSid, Plivo auth_id) for webhook lookup
  created_at: string;
  updated_at: string;
}

export interface PhoneNumberTable {
  id: string;
  tenant_id: string;
  e164: string;
  provider: string | null;
  credentials_id: string | null;
  agent_id: string | null;
  inbound_enabled: number;
  outbound_enabled: number;
  friendly_name: string | null;
  carrier_sid: string | null;
  capabilities: string; // JSON array
  created_at: string;
  updated_at: string;
}

export interface RegistrationTable {
  id: string;
  tenant_id: string;
  name: string | null;
  handler: string;
  outbound: number;
  registrar: string;
  username: string;
  sealed_password: string;
  options: string; // JSON object
  status: string; // active | failed | disabled
  state: string; // initial | registering | registered | failed
  error: string | null;
  listener_agent_id: string | null;
  generation: number; // bumped whenever registrar/credentials change or it is (re)activated
  lease_owner: string | null;
  lease_expires_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface TrunkTable {
  id: string;
  tenant_id: string;
  name: string;
  address: string;
  numbers: string; // JSON array of E.164
  auth_username: string;
  sealed_password: string;
  type: string; // twilio | exotel
  created_at: string;
  updated_at: string;
}

export interface CallTable {
  id: string;
  tenant_id: string;
  call_sid: string;
  agent_id: string | null;
  phone_number: string | null;
  direction: string; // inbound | outbound
  from_number: string;
  to_number: string;
  status: string;
  context: string; // JSON object
  started_at: string;
  answered_at: string | null;
  ended_at: string | null;
  duration_seconds: number | null;
  cost: number | null;
  end_reason: string | null;
  handoff: string | null; // JSON
  handler: string | null; // SIP calls: livekit | sip | dialtone | relay
  line_id: string | null; // the registration a SIP call came in on
  trunk_id: string | null; // the trunk a SIP call went out through
  sip_status: number | null; // the SIP status that ended a SIP call
  owner_instance: string | null; // cluster mode: the instance holding the live call (migration 100)
  created_at: string;
  updated_at: string;
}

export interface CallTurnTable {
  id: string;
  tenant_id: string;
  call_id: string;
  role: string; // caller | agent | supervisor | system
  text: string;
  interrupted: number;
  created_at: string;
}

/** Running call totals kept by database triggers on `calls` (migration 060), read by analytics. */
export interface CallHourlyTotalTable {
  tenant_id: string;
  hour: string; // UTC 'YYYY-MM-DDTHH', the first 13 characters of started_at
  status: string;
  calls: number;
  seconds: number;
}

export interface CallAgentDailyTotalTable {
  tenant_id: string;
  day: string; // UTC 'YYYY-MM-DD'
  agent_id: string;
  calls: number;
  seconds: number;
}

/** A committed event not yet published (see migrations/070_outbox.ts). */
export interface EventOutboxTable {
  id: string;
  /** Write order: milliseconds since the epoch times 1000 plus a per-process counter. */
  seq: number;
  /** The DomainEvent as JSON. */
  event: string;
  created_at: string;
}

/** A secret of the platform itself, sealed by the vault (see migrations/080_platform_secrets.ts). */
export interface PlatformSecretTable {
  key: string;
  sealed_value: string; // vault envelope
  created_at: string;
}

export interface CallReplayGuardTable {
  call_sid: string;
  last_sequence: number | null;
  relay_opened_at: string | null;
}

/** A live instance of the cluster; gone once `expires_at` passed without renewal (migration 100). */
export interface InstanceTable {
  id: string;
  started_at: string;
  expires_at: string;
}

export interface Database {
  tenants: TenantTable;
  api_keys: ApiKeyTable;
  agents: AgentTable;
  agent_addresses: AgentAddressTable;
  tags: TagTable;
  agent_tags: AgentTagTable;
  provider_credentials: ProviderCredentialTable;
  phone_numbers: PhoneNumberTable;
  registrations: RegistrationTable;
  trunks: TrunkTable;
  calls: CallTable;
  call_replay_guards: CallReplayGuardTable;
  call_turns: CallTurnTable;
  call_hourly_totals: CallHourlyTotalTable;
  call_agent_daily_totals: CallAgentDailyTotalTable;
  event_outbox: EventOutboxTable;
  platform_secrets: PlatformSecretTable;
  instances: InstanceTable;
}
