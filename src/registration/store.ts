/**
 * What the engine needs from the rest of the product, as a narrow port: the registration
 * service implements it, unit tests fake it. Nothing here touches the database directly.
 */
import type { RegistrationStateName, RegistrationStatusName } from '../events/catalog.js';

export type EngineRegistrationState = RegistrationStateName;

/** The fields of a registration the engine reads; the domain's Registration is a superset. */
export interface EngineRegistration {
  id: string;
  tenantId: string;
  registrar: string;
  username: string;
  options: Record<string, unknown>;
  status: RegistrationStatusName;
  state: EngineRegistrationState;
  generation: number;
}

export interface StateChange {
  state: EngineRegistrationState;
  error?: string | null;
  status?: 'failed';
}

export interface RegistrationStore {
  listActive(): Promise<EngineRegistration[]>;
  getForEngine(id: string): Promise<(EngineRegistration & { password: string }) | null>;
  /** false: the generation is stale or the registration is no longer active; drop that attempt. */
  reportState(id: string, generation: number, change: StateChange): Promise<boolean>;
  findListener(id: string): Promise<{ registration: EngineRegistration; agentId: string | null } | null>;
}

