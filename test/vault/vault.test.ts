import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Vault, loadMasterKey } from '../../src/vault/vault.js';

test('sealed values open with the same key and never contain the plaintext', () => {
  const vault = new Vault(randomBytes(32));
  const sealed = vault.seal('s3cret-password');
  assert.ok(!sealed.includes('s3cret'));
  assert.equal(vault.open(sealed), 's3cret-password');
});

test('each value gets its own nonce, so equal secrets seal differently', () => {
  const vault = new Vault(randomBytes(32));
  assert.notEqual(vault.seal('same'), vault.seal('same'));
});

test('a tampered envelope or a foreign key is refused', () => {
  const vault = new Vault(randomBytes(32));
  const sealed = vault.seal('value');
  const parts = sealed.split('.');
  parts[3] = Buffer.from('x' + Buffer.from(parts[3], 'base64url').toString('latin1')).toString('base64url');
  assert.throws(() => vault.open(parts.join('.')));
  assert.throws(() => new Vault(randomBytes(32)).open(sealed), /not in the key ring/);
});

test('a rotated key ring still opens values sealed with the previous key', () => {
  const oldKey = randomBytes(32);
  const sealed = new Vault(oldKey).seal('legacy');
  assert.equal(new Vault(randomBytes(32), [oldKey]).open(sealed), 'legacy');
});

test('the generated master key is written once with mode 0600 and reused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vault-'));
  const first = loadMasterKey(null, dir);
  assert.equal(first.generated, true);
  assert.equal(statSync(join(dir, 'master.key')).mode & 0o777, 0o600);
  const second = loadMasterKey(null, dir);
  assert.equal(second.generated, false);
  assert.deepEqual(second.key, first.key);
  assert.equal(Buffer.from(readFileSync(join(dir, 'master.key'), 'utf8').trim(), 'base64').length, 32);
  assert.throws(() => loadMasterKey('dG9vIHNob3J0', dir), /32 bytes/);
});
