import { isPossiblePhoneNumber } from 'libphonenumber-js';
import { invalid } from './errors.js';

const E164 = /^\+[1-9]\d{6,14}$/;

/** E.164 as carriers want it: `+`, country code, no spaces, and a possible number for that country. */
export function isE164(value: unknown): value is string {
  return typeof value === 'string' && E164.test(value) && isPossiblePhoneNumber(value);
}

export function requireE164(field: string, value: unknown): string {
  if (!isE164(value)) throw invalid(field, `${field} must be an E.164 phone number like +15551234567`);
  return value;
}

export function requireText(field: string, value: unknown, opts: { min?: number; max?: number } = {}): string {
  const { min = 1, max = 1000 } = opts;
  if (typeof value !== 'string') throw invalid(field, `${field} must be a string`);
  if (value.trim().length < min) throw invalid(field, `${field} must not be empty`);
  if (value.length > max) throw invalid(field, `${field} must be at most ${max} characters`);
  return value;
}

export function requireOneOf<T extends string>(field: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !allowed.includes(value as T)) {
    throw invalid(field, `${field} must be one of ${allowed.join(', ')}`);
  }
  return value as T;
}

export function requireObject(field: string, value: unknown): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalid(field, `${field} must be an object`);
  }
  return value as Record<string, unknown>;
}
