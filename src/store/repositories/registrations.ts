import type { StoreHandle } from '../transactions.js';

/** The `registrations` table. */
export class SqlRegistrationRepository {
  constructor(private readonly store: StoreHandle) {}
}
