import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.js';

const full = {
  LIVEKIT_URL: 'https://project.livekit.cloud/',
  LIVEKIT_API_KEY: 'APIkey',
  LIVEKIT_API_SECRET: 'secret-value',
  LIVEKIT_SIP_URI: 'sip:project.sip.livekit.cloud',
};

describe('LIVEKIT_* settings', () => {
  it('are off when none is set', () => {
    assert.equal(loadConfig({}).livekit, null);
    assert.equal(loadConfig({ LIVEKIT_URL: '', LIVEKIT_API_KEY: ' ' }).livekit, null);
  });

  it('are read together when all four are set', () => {
    assert.deepEqual(loadConfig(full).livekit, {
      url: 'https://project.livekit.cloud', apiKey: 'APIkey', apiSecret: 'secret-value', sipUri: 'sip:project.sip.livekit.cloud',
    });
    assert.equal(loadConfig({ ...full, LIVEKIT_URL: 'wss://lk.example.com', LIVEKIT_SIP_URI: 'sips:lk.example.com:5061;transport=tls' }).livekit?.url, 'wss://lk.example.com');
  });

  it('refuse a partial set, naming every missing one', () => {
    assert.throws(() => loadConfig({ LIVEKIT_URL: full.LIVEKIT_URL }), (err: Error) =>
      /LIVEKIT_API_KEY, LIVEKIT_API_SECRET, LIVEKIT_SIP_URI/.test(err.message) && !err.message.includes(full.LIVEKIT_URL));
    for (const name of Object.keys(full) as Array<keyof typeof full>) {
      const env: Record<string, string> = { ...full };
      delete env[name];
      assert.throws(() => loadConfig(env), new RegExp(`set ${name} too`), name);
      assert.throws(() => loadConfig({ ...full, [name]: '   ' }), new RegExp(`set ${name} too`), `${name} blank`);
    }
  });

  it('refuse a URL or SIP URI that is not one, without echoing the secret', () => {
    for (const url of ['project.livekit.cloud', 'ftp://x', 'https://']) {
      assert.throws(() => loadConfig({ ...full, LIVEKIT_URL: url }), /LIVEKIT_URL must be/, url);
    }
    for (const uri of ['project.sip.livekit.cloud', 'sip:user@host', 'http://host', 'sip:']) {
      assert.throws(() => loadConfig({ ...full, LIVEKIT_SIP_URI: uri }), /LIVEKIT_SIP_URI must be/, uri);
    }
    assert.throws(() => loadConfig({ ...full, LIVEKIT_URL: 'nope' }), (err: Error) => !err.message.includes(full.LIVEKIT_API_SECRET));
  });

  it('stop the server from starting when partial, with the names in the message', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'dialtone-lk-config-'));
    try {
      const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, DATA_DIR: dataDir, PORT: '0', SIP_PORT: '0', LIVEKIT_URL: full.LIVEKIT_URL, LIVEKIT_API_SECRET: 'x' };
      const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], { env, encoding: 'utf8', timeout: 30_000 });
      assert.notEqual(run.status, 0);
      assert.match(run.stderr, /LIVEKIT_API_KEY, LIVEKIT_SIP_URI/);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
