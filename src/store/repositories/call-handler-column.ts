import type { CallHandler } from '../../domain/call-handler.js';

/**
 * The one place a stored handler column is read as a `CallHandler`. No check here: the
 * services validate every handler before it is written, and the columns hold nothing else.
 */
export function storedHandler(value: string): CallHandler;
export function storedHandler(value: string | null): CallHandler | null;
export function storedHandler(value: string | null): CallHandler | null {
  return value as CallHandler | null;
}
