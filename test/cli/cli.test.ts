/**
 * The `dialtone` CLI as people and scripts run it (`node bin/dialtone.js`, what `npx dialtone`
 * runs), against a Dialtone process of its own: bootstrap and profiles, keys, lines (and
 * watching one change state live), agents, numbers, calls (tailing events live, supervisor
 * actions), `--json` and tables, and the exit codes of usage mistakes, refusals, an unreachable
 * server and a watch that times out. SIP ports 19020–19029 (Dialtone), 19080–19089 (registrars
 * nobody answers on).
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { createDialtoneClient } from '../../src/client/index.js';
import { twilioSignature } from '../helpers/twilio.js';
import { spawnDialtone, type SpawnedDialtone } from '../helpers/spawned-dialtone.js';
import { testDbs } from '../helpers/server.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Run { code: number; out: string; err: string }
type Running = Promise<Run> & { started: Promise<void>; stderrSays(pattern: RegExp): Promise<void> };

/** One CLI run with exactly this environment (no DIALTONE_* leaks in from the test's own). */
function cli(args: string[], env: Record<string, string> = {}): Running {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DIALTONE_')));
  const child = spawn(process.execPath, ['bin/dialtone.js', ...args], { cwd: ROOT, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  const started = new Promise<void>((r) => child.once('spawn', () => r()));
  const done = new Promise<Run>((resolve) => child.once('close', (code) => resolve({ code: code ?? -1, out, err })));
  const guard = setTimeout(() => child.kill('SIGKILL'), 90_000);
  void done.then(() => clearTimeout(guard));
  /** Resolves once stderr shows the pattern (a watch saying its socket is open). */
  const stderrSays = (pattern: RegExp) => new Promise<void>((resolve, reject) => {
    const check = () => {
      if (pattern.test(err)) { child.stderr.off('data', check); resolve(); }
    };
    child.stderr.on('data', check);
    void done.then((r) => reject(new Error(`exited ${r.code} before saying ${pattern}: ${r.err}`)));
    check();
  });
  return Object.assign(done, { started, stderrSays });
}

const json = (r: Run) => {
  assert.equal(r.code, 0, `exit ${r.code}: ${r.err}`);
  return JSON.parse(r.out);
};


testDbs().forEach((db, i) => describe(`dialtone CLI (${db})`, () => {
  let d: SpawnedDialtone;
  let home: string;
  let env: Record<string, string>;
  let tenantKey = '';
  let tenantId = '';
  before(async () => {
    d = await spawnDialtone(db, 19020 + i, { REGISTER_FAILURES_BEFORE_FAILED: '1', REGISTER_BACKOFF_BASE_MS: '200', REGISTER_BACKOFF_MAX_MS: '400' });
    home = mkdtempSync(join(tmpdir(), 'dialtone-cli-home-'));
    env = { HOME: home, DIALTONE_PROFILE_FILE: join(home, 'profile.json'), DIALTONE_URL: d.base };
  });
  after(async () => {
    await d?.stop();
    rmSync(home, { recursive: true, force: true });
  });

  test('usage mistakes exit 2 and say what is wrong', async () => {
    const none = await cli([], env);
    assert.equal(none.code, 2);
    assert.match(none.out, /Usage: dialtone <command>/);
    assert.equal((await cli(['help'], env)).code, 0);
    const unknown = await cli(['lines', 'frob'], env);
    assert.equal(unknown.code, 2);
    assert.match(unknown.err, /unknown command "lines frob"/);
    const missing = await cli(['lines', 'add', '--username', 'u', '--password', 'p'], { ...env, DIALTONE_API_KEY: 'x' });
    assert.equal(missing.code, 2);
    assert.match(missing.err, /--registrar is required/);
    assert.match(missing.err, /usage: dialtone lines add/);
    const foreign = await cli(['keys', 'list', '--registrar', 'x'], env);
    assert.equal(foreign.code, 2);
    assert.match(foreign.err, /--registrar is not a flag of "keys list"/);
    assert.equal((await cli(['calls', 'tail', '--count', 'many'], env)).code, 2);
    assert.equal((await cli(['lines', 'show'], { ...env, DIALTONE_API_KEY: 'x' })).code, 2, 'LINE_ID missing');
    assert.match((await cli(['agents', 'create', '--name', 'A', '--type', 'sideways'], env)).err, /--type must be inbound or outbound/);
    const noKey = await cli(['bootstrap', '--name', 'x'], env);
    assert.equal(noKey.code, 2);
    assert.match(noKey.err, /no API key/);
    assert.equal((await cli(['lines', 'list', '--url', 'ftp://x'], env)).code, 2);
  });

  test('an unreachable server exits 3; a refused key exits 1 with the server\'s reason', async () => {
    const down = await cli(['lines', 'list', '--url', 'http://127.0.0.1:9', '--api-key', 'k'], env);
    assert.equal(down.code, 3, down.err);
    assert.match(down.err, /cannot reach the server/);
    const refused = await cli(['bootstrap', '--name', 'Nope', '--api-key', 'not-a-key'], env);
    assert.equal(refused.code, 1);
    assert.match(refused.err, /401/);
  });

  test('bootstrap makes a tenant and its first key, saved as a profile only its owner reads', async () => {
    const r = json(await cli(['bootstrap', '--name', `CLI Co ${db}`, '--save', 'default', '--json'], { ...env, DIALTONE_API_KEY: d.adminKey }));
    assert.ok(r.tenant_id && r.key && r.key_id);
    tenantKey = r.key;
    tenantId = r.tenant_id;
    const file = join(home, 'profile.json');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')).default, { url: d.base, apiKey: tenantKey });
    // From here on the profile alone carries the key: no flag, no DIALTONE_API_KEY.
    const listed = await cli(['keys', 'list'], { HOME: home, DIALTONE_PROFILE_FILE: file });
    assert.equal(listed.code, 0, listed.err);
    assert.match(listed.out, /^ID\s+NAME\s+DETAIL/m);
    assert.match(listed.out, /ops\s+made by dialtone bootstrap/);
    assert.equal(listed.out.includes(tenantKey), false, 'a listed key never shows its token');
    const profiles = await cli(['profile', 'list'], env);
    assert.match(profiles.out, /default/);
    assert.equal(profiles.out.includes(tenantKey), false);
    assert.equal((await cli(['keys', 'list', '--profile', 'prod'], env)).code, 2, 'an unknown profile is a usage error');
  });

  test('keys: create shows the token once, delete revokes it', async () => {
    const made = json(await cli(['keys', 'create', '--name', 'ci', '--detail', 'for CI', '--json'], env));
    assert.ok(made.token);
    const withIt = await cli(['keys', 'list', '--api-key', made.token], env);
    assert.equal(withIt.code, 0);
    assert.equal((await cli(['keys', 'delete', made.id], env)).code, 0);
    const after = await cli(['keys', 'list', '--api-key', made.token], env);
    assert.equal(after.code, 1, 'the deleted key no longer works');
  });

  test('lines: add, list, show; a bad registrar is the server\'s 400', async () => {
    const added = json(await cli(['lines', 'add', '--registrar', 'sip:127.0.0.1:19080;transport=tcp', '--username', '1001', '--password', 'cli-secret', '--name', 'Desk', '--json'], env));
    assert.equal(added.state, 'initial');
    const list = json(await cli(['lines', 'list', '--json'], env));
    assert.ok(list.some((l: { id: string; name: string }) => l.id === added.id && l.name === 'Desk'));
    const table = await cli(['lines', 'list'], env);
    assert.match(table.out, /^ID\s+TYPE\s+NAME\s+STATUS\s+STATE/m);
    assert.match(table.out, new RegExp(`${added.id}\\s+phone-registration\\s+Desk\\s+disabled\\s+initial`));
    assert.equal(table.out.includes('cli-secret'), false);
    const shown = await cli(['lines', 'show', added.id], env);
    assert.match(shown.out, /registrar\s+sip:127\.0\.0\.1:19080;transport=tcp/);
    const bad = await cli(['lines', 'add', '--registrar', 'not a uri', '--username', 'u', '--password', 'p'], env);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /400: .*registrar/);
    assert.equal((await cli(['lines', 'show', 'nope'], env)).code, 1);
  });

  test('lines watch follows a line live until it reaches the state asked for; a watch that times out exits 4', async () => {
    const added = json(await cli(['lines', 'add', '--registrar', 'sip:127.0.0.1:19081;transport=tcp', '--username', '1002', '--password', 'pw', '--json'], env));
    const watch = cli(['lines', 'watch', added.id, '--until', 'failed', '--timeout', '40', '--json'], env);
    await watch.stderrSays(/watching/);
    assert.equal((await cli(['lines', 'activate', added.id], env)).code, 0);
    const r = await watch;
    assert.equal(r.code, 0, r.err);
    const states = r.out.trim().split('\n').map((l) => JSON.parse(l).data.state);
    assert.equal(states[0], 'initial', 'where the line stood when the watch began');
    assert.ok(states.includes('registering'), states.join());
    assert.equal(states.at(-1), 'failed');
    const last = JSON.parse(r.out.trim().split('\n').at(-1)!);
    assert.match(last.data.error, /127\.0\.0\.1|refused|connect/i);
    const waited = await cli(['lines', 'watch', added.id, '--until', 'registered', '--timeout', '2'], env);
    assert.equal(waited.code, 4);
    assert.match(waited.err, /within 2 s/);
    assert.equal((await cli(['lines', 'watch', '--until', 'registered'], env)).code, 2, '--until needs line ids');
    assert.equal((await cli(['lines', 'disable', added.id], env)).code, 0);
  });

  test('agents and numbers: create, list, assign, release; refusals exit 1', async () => {
    const agent = json(await cli(['agents', 'create', '--name', 'Renewals', '--type', 'outbound', '--prompt', 'You call about renewals.', '--json'], env));
    assert.equal(agent.name, 'Renewals');
    assert.match((await cli(['agents', 'list'], env)).out, new RegExp(`${agent.id}\\s+Renewals\\s+outbound`));
    const number = json(await cli(['numbers', 'add', '--e164', `+1202555${String(100 + i).padStart(4, '0')}`, '--json'], env));
    assert.equal((await cli(['numbers', 'assign', number.e164, '--agent', agent.id], env)).code, 0);
    const listed = json(await cli(['numbers', 'list', '--agent', agent.id, '--json'], env));
    assert.deepEqual(listed.map((n: { e164: string }) => n.e164), [number.e164]);
    assert.equal((await cli(['numbers', 'release', number.e164], env)).code, 0);
    const badNumber = await cli(['numbers', 'add', '--e164', '12345'], env);
    assert.equal(badNumber.code, 1);
    assert.match(badNumber.err, /400: .*E\.164|e164/i, 'the telephony API\'s plain-text reason');
    assert.equal((await cli(['agents', 'show', 'nope'], env)).code, 1);
    assert.equal((await cli(['agents', 'delete', agent.id], env)).code, 0);
  });

  test('calls: tail streams a call as it starts; supervisor actions and place report refusals', async () => {
    assert.match((await cli(['calls', 'list'], env)).out, /\(none\)/);
    // A call to set going: a Twilio number of an agent, rung through the signed voice webhook.
    const api = createDialtoneClient({ baseUrl: d.base, apiKey: tenantKey });
    const accountSid = `AC${randomBytes(16).toString('hex')}`;
    const authToken = randomBytes(16).toString('hex');
    const cred = await api.POST('/api/v1/telephony/providers', { body: { provider: 'twilio', label: 'main', credentials: { account_sid: accountSid, auth_token: authToken } } });
    assert.equal(cred.response.status, 201, JSON.stringify(cred.error));
    const answering = await api.POST('/api/agents', { body: { name: 'Ava', type: 'inbound', status: 'active' } });
    const number = `+1555010${String(1000 + i)}`;
    const pinned = await api.POST('/api/v1/telephony/numbers', { body: { e164: number, credentials_id: cred.data!.id, agent_id: answering.data!.id } });
    assert.equal(pinned.response.status, 201, JSON.stringify(pinned.error));
    const tail = cli(['calls', 'tail', '--count', '1', '--timeout', '30', '--json'], env);
    await tail.stderrSays(/following calls/);
    const sid = `CA${randomBytes(16).toString('hex')}`;
    const form = { AccountSid: accountSid, CallSid: sid, From: '+15550002222', To: number, CallStatus: 'ringing', Direction: 'inbound' };
    const rung = await fetch(`${d.base}/twilio/voice`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilioSignature(authToken, `${d.base}/twilio/voice`, form) },
      body: new URLSearchParams(form).toString(),
    });
    assert.equal(rung.status, 200, await rung.text());
    const r = await tail;
    assert.equal(r.code, 0, r.err);
    const event = JSON.parse(r.out.trim());
    assert.deepEqual([event.type, event.call_sid], ['call.started', sid]);
    const assistant = await api.POST('/api/agents', { body: { name: 'Caller', type: 'outbound' } });
    const shown = json(await cli(['calls', 'show', sid, '--json'], env));
    assert.equal(shown.call_sid, sid);
    const unknown = await cli(['calls', 'say', 'CA00000000000000000000000000000000', 'hello'], env);
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /404/);
    assert.equal((await cli(['calls', 'dtmf', sid], env)).code, 2, 'DIGITS missing');
    const place = await cli(['calls', 'place', '--agent', assistant.data!.id, '--to', '+15559876543'], env);
    assert.equal(place.code, 1, 'the agent has no number of its own to call from');
    assert.equal((await cli(['calls', 'place', '--agent', 'a', '--to', '+1', '--context', '[1]'], env)).code, 2);
    const history = await cli(['calls', 'list', '--history', '--limit', '5'], env);
    assert.equal(history.code, 0);
    assert.match(history.out, new RegExp(sid));
  });

  test('the platform admin acts for a tenant with --account', async () => {
    const r = json(await cli(['lines', 'list', '--json', '--api-key', d.adminKey, '--account', tenantId], env));
    assert.ok(r.length >= 2);
  });
}));
