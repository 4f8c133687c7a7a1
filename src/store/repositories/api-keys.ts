import type { StoreHandle } from '../transactions.js';

/** The `api_keys` table. */
export class SqlApiKeyRepository {
  constructor(private readonly store: StoreHandle) {}
}
