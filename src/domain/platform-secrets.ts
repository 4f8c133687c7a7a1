/**
 * Secrets of the platform itself (not of a tenant), each a vault envelope under a fixed key.
 * Callers seal and open; the store never sees a value in clear.
 */
export interface PlatformSecretRepository {
  get(key: string): Promise<string | null>;
  /**
   * Stores `sealedValue` unless the key holds one already, and returns whichever is stored:
   * two instances generating a secret at once both end up using the first one written.
   */
  putIfAbsent(key: string, sealedValue: string, at: string): Promise<string>;
}
