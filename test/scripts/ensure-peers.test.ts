import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../../scripts/ensure-peers.sh', import.meta.url));

function which(cmd: string): Promise<string> {
  return new Promise((resolve, reject) => execFile('bash', ['-c', `command -v ${cmd}`], (err, out) => (err ? reject(err) : resolve(out.trim()))));
}

/** Running, not a zombie: an orphan may wait a while to be reaped, depending on what pid 1 is. */
function alive(pid: number): boolean {
  try { return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8')); } catch { return false; }
}

/** A process whose name and arguments look like the distribution's Kamailio. */
function fakeKamailio(path: string): ChildProcess {
  return spawn(path, ['-f', '/etc/kamailio/kamailio.cfg'], { stdio: 'ignore', detached: true });
}

test('ensure-peers stops only the Kamailio its own install started, by pid', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dialtone-peers-'));
  const bin = join(dir, 'bin');
  const sbin = join(dir, 'sbin');
  mkdirSync(bin);
  mkdirSync(sbin);
  // The "daemon": a shell loop whose process name is kamailio.
  const daemon = join(sbin, 'kamailio');
  writeFileSync(daemon, '#!/bin/sh\nwhile :; do sleep 1; done\n');
  chmodSync(daemon, 0o755);
  // Only the tools the script needs, and every process tool a Debian machine has (procps), so a
  // script that stopped processes by name would find the means; kamailio, kamcmd and sipp are
  // missing, so it installs them.
  const procps = readFileSync('/var/lib/dpkg/info/procps.list', 'utf8').split('\n').filter((f) => f.startsWith('/usr/bin/'));
  assert.ok(procps.length > 5, 'procps lists its tools');
  for (const tool of ['ls', 'sort', 'tr', 'grep', 'node', 'cat', 'sleep', 'openssl']) symlinkSync(await which(tool), join(bin, tool));
  for (const path of procps) symlinkSync(path, join(bin, path.slice('/usr/bin/'.length)));
  writeFileSync(join(bin, 'id'), '#!/bin/sh\necho 0\n');
  // Installing starts the distribution's service, as Debian's post-install does.
  const pidFile = join(dir, 'started.pid');
  writeFileSync(join(bin, 'apt-get'), `#!/bin/sh\ncase "$*" in *install*) "${daemon}" -f /etc/kamailio/kamailio.cfg </dev/null >/dev/null 2>&1 & echo $! > "${pidFile}";; esac\nexit 0\n`);
  for (const f of ['id', 'apt-get']) chmodSync(join(bin, f), 0o755);

  // Someone else's Kamailio, running before the script: not the script's to stop.
  const other = fakeKamailio(daemon);
  let started = 0;
  t.after(() => {
    for (const pid of [other.pid!, started]) if (pid && alive(pid)) process.kill(pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  await new Promise((r) => setTimeout(r, 200));

  const code = await new Promise<number | null>((resolve) => {
    const run = spawn('/bin/bash', [SCRIPT], { env: { PATH: bin }, stdio: 'ignore' });
    run.on('exit', resolve);
  });
  assert.equal(code, 0);
  started = Number(readFileSync(pidFile, 'utf8').trim());
  assert.ok(started > 0);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(alive(started), false, 'the Kamailio the install started is stopped');
  assert.equal(alive(other.pid!), true, 'a Kamailio the script did not start keeps running');
});
