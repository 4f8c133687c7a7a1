import type { StoreHandle } from '../transactions.js';

/** The `phone_numbers` table: its only writer. */
export class SqlPhoneNumberRepository {
  constructor(private readonly store: StoreHandle) {}
}
