/**
 * True when a database error is a unique-constraint violation, in either dialect. Repositories
 * turn it into a result the domain understands ("username taken"); services never see the error.
 */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return e?.code === '23505' || e?.code === 'SQLITE_CONSTRAINT_UNIQUE' || e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}
