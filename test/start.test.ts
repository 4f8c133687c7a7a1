import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

function tcpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

function udpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.once('error', () => { s.close(); resolve(false); });
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A port free on TCP (and on UDP too, for SIP). */
async function freePort(udp = false): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    if (!udp || (await udpFree(port))) return port;
  }
}

test('SIGTERM to the `npm start` pid stops the server gracefully and frees its ports', { timeout: 90_000 }, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'dialtone-start-'));
  const [httpPort, sipPort] = [await freePort(), await freePort(true)];
  const npm = spawn('npm', ['start'], {
    cwd: ROOT,
    // Its own process group, so that whatever is left over when the test fails can be cleaned up.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env, PORT: String(httpPort), HOST: '127.0.0.1', SIP_PORT: String(sipPort), SIP_HOST: '127.0.0.1',
      SIP_PUBLIC_HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'warn', ADMIN_API_KEY: 'start-test-admin', DATABASE_URL: '', REDIS_URL: '',
    },
  });
  t.after(() => {
    try { process.kill(-npm.pid!, 'SIGKILL'); } catch { /* already gone */ }
    rmSync(dataDir, { recursive: true, force: true });
  });
  let out = '';
  npm.stderr.on('data', (c: Buffer) => { out += c.toString(); });
  // Ends once every process holding the pipe (npm and the server it started) has exited.
  const outputClosed = new Promise<void>((resolve) => npm.stdout.on('end', resolve));
  npm.stdout.on('data', (c: Buffer) => { out += c.toString(); });
  const deadline = Date.now() + 60_000;
  while (!out.includes('SIP listening') && Date.now() < deadline) {
    if (npm.exitCode !== null) assert.fail(`npm start exited early:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.match(out, /SIP listening/, out);
  assert.equal(await tcpFree(httpPort), false);

  process.kill(npm.pid!, 'SIGTERM');
  const closed = await Promise.race([outputClosed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 15_000))]);
  assert.ok(closed, `the server is still running after SIGTERM to npm:\n${out}`);
  if (npm.exitCode === null && npm.signalCode === null) await once(npm, 'exit');
  assert.match(out, /Dialtone stopped/, 'shut down through its own graceful path');
  assert.equal(await tcpFree(httpPort), true, 'HTTP port freed');
  assert.equal(await tcpFree(sipPort), true, 'SIP TCP port freed');
  assert.equal(await udpFree(sipPort), true, 'SIP UDP port freed');
});
