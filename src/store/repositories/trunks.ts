import type { StoreHandle } from '../transactions.js';

/** The `trunks` table. */
export class SqlTrunkRepository {
  constructor(private readonly store: StoreHandle) {}
}
