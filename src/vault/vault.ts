import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Seals secrets at rest with AES-256-GCM. Each value gets its own random 96-bit nonce and
 * carries the id of the key that sealed it, so a key ring can open values sealed before a
 * rotation. Envelope: `v1.<keyId>.<nonce>.<ciphertext>.<tag>` (base64url parts).
 */
export class Vault {
  private readonly keys = new Map<string, Buffer>();
  private readonly currentId: string;

  constructor(currentKey: Buffer, previousKeys: Buffer[] = []) {
    if (currentKey.length !== 32) throw new Error('vault key must be 32 bytes');
    this.currentId = Vault.keyId(currentKey);
    this.keys.set(this.currentId, currentKey);
    for (const k of previousKeys) this.keys.set(Vault.keyId(k), k);
  }

  static keyId(key: Buffer): string {
    return createHash('sha256').update(key).digest('hex').slice(0, 8);
  }

  seal(plaintext: string): string {
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.keys.get(this.currentId)!, nonce);
    cipher.setAAD(Buffer.from(this.currentId));
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const parts = [nonce, ct, cipher.getAuthTag()].map((b) => b.toString('base64url'));
    return ['v1', this.currentId, ...parts].join('.');
  }

  open(envelope: string): string {
    const [version, keyId, nonce, ct, tag] = envelope.split('.');
    if (version !== 'v1' || !keyId || nonce === undefined || ct === undefined || tag === undefined) {
      throw new Error('not a vault envelope');
    }
    const key = this.keys.get(keyId);
    if (!key) throw new Error(`vault key ${keyId} is not in the key ring`);
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(nonce, 'base64url'));
    decipher.setAAD(Buffer.from(keyId));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
  }

  sealJson(value: unknown): string {
    return this.seal(JSON.stringify(value));
  }

  openJson<T>(envelope: string): T {
    return JSON.parse(this.open(envelope)) as T;
  }
}

/** MASTER_KEY (base64 of 32 bytes) wins; otherwise DATA_DIR/master.key, generated once with mode 0600. */
export function loadMasterKey(masterKey: string | null, dataDir: string): { key: Buffer; generated: boolean } {
  if (masterKey) {
    const key = Buffer.from(masterKey, 'base64');
    if (key.length !== 32) throw new Error('MASTER_KEY must be base64 of exactly 32 bytes');
    return { key, generated: false };
  }
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, 'master.key');
  if (existsSync(file)) {
    const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
    if (key.length !== 32) throw new Error(`${file} does not hold base64 of 32 bytes`);
    return { key, generated: false };
  }
  const key = randomBytes(32);
  writeFileSync(file, key.toString('base64') + '\n', { mode: 0o600 });
  chmodSync(file, 0o600);
  return { key, generated: true };
}
