/** LiveKit SIP provisioning: no HTTP, no SIP stack; the edge reads the trunk credentials from here. */
import type { Logger } from 'pino';
import type { LiveKitConfig } from '../config.js';
import type { PlatformSecretRepository } from '../domain/platform-secrets.js';
import type { DomainEvent } from '../events/catalog.js';
import type { Vault } from '../vault/vault.js';
import { LiveKitProvisioner } from './provisioner.js';
import { LiveKitSync, type LiveKitAgentSource, type LiveKitSyncOptions } from './sync.js';

export { livekitCalledUser } from './names.js';
export { LiveKitProvisioner, type InboundTrunk, type AgentRuleInput, type AgentDispatchMetadata } from './provisioner.js';
export { LiveKitSync, routesToLiveKit, type LiveKitAgentSource, type LiveKitAgentView, type LiveKitLine } from './sync.js';

export interface LiveKitDeps {
  secrets: PlatformSecretRepository;
  vault: Vault;
  source: LiveKitAgentSource;
  subscribe: (handler: (event: DomainEvent) => void) => () => void;
  logger: Logger;
  sync?: LiveKitSyncOptions;
}

export interface LiveKit {
  config: LiveKitConfig;
  provisioner: LiveKitProvisioner;
  sync: LiveKitSync;
  stop(): Promise<void>;
}

/** Starts keeping LiveKit in step; returns at once (provisioning runs, and retries, in the background). */
export function startLiveKitSync(config: LiveKitConfig, deps: LiveKitDeps): LiveKit {
  const provisioner = new LiveKitProvisioner(config, { secrets: deps.secrets, vault: deps.vault });
  const sync = new LiveKitSync(provisioner, deps.source, deps.logger.child({ component: 'livekit' }), deps.sync);
  sync.start(deps.subscribe);
  return { config, provisioner, sync, stop: () => sync.stop() };
}
