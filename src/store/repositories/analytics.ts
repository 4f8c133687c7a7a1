import type { StoreHandle } from '../transactions.js';

/** The `call_hourly_totals` and `call_agent_daily_totals` tables. */
export class SqlAnalyticsRepository {
  constructor(private readonly store: StoreHandle) {}
}
