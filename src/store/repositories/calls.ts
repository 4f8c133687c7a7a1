import type { StoreHandle } from '../transactions.js';

/** The `calls` and `call_turns` tables. */
export class SqlCallRepository {
  constructor(private readonly store: StoreHandle) {}
}
