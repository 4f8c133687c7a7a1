import type { StoreHandle } from '../transactions.js';

/** The `provider_credentials` table. */
export class SqlProviderCredentialRepository {
  constructor(private readonly store: StoreHandle) {}
}
