/** One page of a newest-first listing; `next` is the creation time of its last item, null at the end. */
export interface Page<T> {
  items: T[];
  next: string | null;
}

/**
 * Pages a newest-first listing whose cursor is a creation time alone (callers continue with
 * `created_at < next`). Rows sharing the boundary's timestamp are kept on the same page, so a
 * page may exceed `pageSize` when several rows were created in one millisecond, but a row is
 * never skipped or repeated. `fetch(limit)` returns up to `limit` rows after the caller's cursor.
 */
export async function pageByCreation<T extends { createdAt: string }>(
  pageSize: number,
  fetch: (limit: number) => Promise<T[]>,
): Promise<Page<T>> {
  let limit = pageSize + 1;
  for (;;) {
    const rows = await fetch(limit);
    if (rows.length <= pageSize) return { items: rows, next: null };
    const boundary = rows[pageSize - 1].createdAt;
    let end = pageSize;
    while (end < rows.length && rows[end].createdAt === boundary) end++;
    if (end < rows.length) return { items: rows.slice(0, end), next: boundary };
    if (rows.length < limit) return { items: rows, next: null };
    limit *= 2;
  }
}
