import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import pino from 'pino';
import { SIPDispatchRule, SIPDispatchRuleDirect, SIPDispatchRuleInfo } from 'livekit-server-sdk';
import type { LiveKitConfig } from '../../src/config.js';
import { InProcessBus } from '../../src/events/bus.js';
import type { DomainEvent } from '../../src/events/catalog.js';
import { livekitCalledUser } from '../../src/livekit/names.js';
import { LiveKitProvisioner } from '../../src/livekit/provisioner.js';
import { LiveKitSync } from '../../src/livekit/sync.js';
import { createRepositories, type SqlRepositories } from '../../src/store/repositories/index.js';
import { Vault } from '../../src/vault/vault.js';
import { startFakeLiveKit, type FakeLiveKit } from '../helpers/livekit-twirp.js';
import { startTestServer, testDbs, type TestServer } from '../helpers/server.js';
import { insertTenant, openTestStore, type TestStore } from '../helpers/store.js';

const ruleOf = (fake: FakeLiveKit, agentId: string) => fake.rulesNamed(`dialtone-agent-${agentId}`)[0];
const metadataOf = (rule: SIPDispatchRuleInfo) => JSON.parse(rule.roomConfig!.agents[0].metadata);

async function waitFor(what: string, cond: () => boolean, timeoutMs = 5_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A pino logger whose lines the test can read. */
function capturingLogger(): { logger: pino.Logger; lines: () => string[] } {
  const lines: string[] = [];
  const stream = new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } });
  return { logger: pino({ level: 'info' }, stream), lines: () => lines };
}

for (const kind of testDbs()) {
  describe(`LiveKit rules follow agents and lines, through the server (${kind})`, () => {
    let fake: FakeLiveKit;
    let s: TestServer;
    let tenant: { id: string; key: string };
    const scope = () => ({ tenantId: tenant.id });
    const settled = () => s.server.livekit!.sync.idle();

    before(async () => {
      fake = await startFakeLiveKit();
      s = await startTestServer(kind, {
        config: (c) => { c.livekit = { url: fake.url, apiKey: fake.apiKey, apiSecret: fake.apiSecret, sipUri: 'sip:project.sip.example' }; },
      });
      tenant = await s.newTenant();
    });
    after(async () => {
      await s.close();
      await fake.stop();
    });

    it('provisions the trunk at start, and the edge gets its credentials from the server', async () => {
      await waitFor('the trunk', () => fake.trunks.size === 1);
      const trunk = await s.server.livekit!.provisioner.ensureInboundTrunk();
      assert.equal(fake.trunks.get(trunk.trunkId)?.authUsername, trunk.username);
      assert.equal(fake.calls('CreateSIPInboundTrunk').length, 1);
    });

    it('creates a rule for a new agent, renames it with the agent, and drops it with the agent', async () => {
      const agent = await s.server.services.agents.create(scope(), { name: 'Reception' });
      await settled();
      const rule = ruleOf(fake, agent.id);
      assert.ok(rule, 'a rule for the new agent');
      assert.equal(rule.roomConfig?.agents[0].agentName, 'Reception');
      assert.deepEqual(metadataOf(rule), { agent_id: agent.id, tenant_id: tenant.id, line_ids: [] });
      assert.deepEqual(rule.numbers, [livekitCalledUser(agent.id)]);

      await s.server.services.agents.update(scope(), agent.id, { name: 'Front desk' });
      await settled();
      assert.equal(ruleOf(fake, agent.id)?.roomConfig?.agents[0].agentName, 'Front desk');
      assert.equal(ruleOf(fake, agent.id)?.sipDispatchRuleId, rule.sipDispatchRuleId, 'updated in place');

      await s.server.services.agents.delete(scope(), agent.id);
      await settled();
      assert.equal(ruleOf(fake, agent.id), undefined);
    });

    it('lists the livekit lines an agent listens on, and follows binding, disabling and deleting them', async () => {
      const regs = s.server.services.registrations;
      const agent = await s.server.services.agents.create(scope(), { name: 'Lines' });
      const line = await regs.create(scope(), { registrar: 'sip:pbx-lk.example.com:5060', username: 'lk1', password: 'pw-lk1' });
      await regs.activate(scope(), line.id);
      await regs.listen(scope(), agent.id, { id: line.id });
      await settled();
      assert.deepEqual(metadataOf(ruleOf(fake, agent.id)).line_ids, [line.id]);

      // A relay line on the same agent takes no LiveKit calls: it is not listed.
      const relay = await regs.create(scope(), { registrar: 'sip:pbx-relay.example.com:5060', username: 'r1', password: 'pw-r1', handler: 'relay' });
      await regs.activate(scope(), relay.id);
      await regs.listen(scope(), agent.id, { id: relay.id });
      await settled();
      assert.deepEqual(metadataOf(ruleOf(fake, agent.id)).line_ids, [line.id]);

      await regs.disable(scope(), line.id);
      await settled();
      assert.deepEqual(metadataOf(ruleOf(fake, agent.id)).line_ids, []);
      await regs.activate(scope(), line.id);
      await settled();
      assert.deepEqual(metadataOf(ruleOf(fake, agent.id)).line_ids, [line.id]);

      await regs.delete(scope(), line.id);
      await settled();
      assert.deepEqual(metadataOf(ruleOf(fake, agent.id)).line_ids, []);
    });

    it('makes no rule for an agent whose handler is not livekit, and removes it when the handler changes', async () => {
      const relayAgent = await s.server.services.agents.create(scope(), { name: 'Relay only', handler: 'relay' });
      await settled();
      assert.equal(ruleOf(fake, relayAgent.id), undefined);

      const agent = await s.server.services.agents.create(scope(), { name: 'Switches' });
      await settled();
      assert.ok(ruleOf(fake, agent.id));
      await s.server.services.agents.update(scope(), agent.id, { handler: 'dialtone' });
      await settled();
      assert.equal(ruleOf(fake, agent.id), undefined);
      await s.server.services.agents.update(scope(), agent.id, { handler: 'livekit' });
      await settled();
      assert.ok(ruleOf(fake, agent.id));
    });
  });
}

describe('LiveKit sync when LiveKit is down or out of step', () => {
  let store: TestStore;
  let repos: SqlRepositories;
  let fake: FakeLiveKit;
  let vault: Vault;
  let config: LiveKitConfig;
  const syncs: LiveKitSync[] = [];

  before(async () => {
    store = await openTestStore('sqlite');
    repos = createRepositories(store);
    vault = new Vault(randomBytes(32));
    fake = await startFakeLiveKit();
    config = { url: fake.url, apiKey: fake.apiKey, apiSecret: fake.apiSecret, sipUri: 'sip:project.sip.example' };
    await insertTenant(store, 't1');
  });
  after(async () => {
    for (const sync of syncs) await sync.stop();
    await fake.stop();
    await store.close();
  });

  const insertAgent = async (id: string, name: string) => {
    const now = new Date().toISOString();
    await store.db.insertInto('agents').values({
      id, tenant_id: 't1', name, detail: '', kind: 'inbound', system_prompt: '', voice: 'alloy', language: 'en-US', greeting: '', personality: '',
      llm_model: null, context_data: '{}', deploy_status: 'active', username: null, password_hash: null, presence: 'offline',
      ring_method: 'ringall', permission: 0, direct_hash: null, handler: null, voice_engine: null, total_calls: 0, total_minutes: 0, created_at: now, updated_at: now,
    }).execute();
  };

  const startSync = (logger: pino.Logger, bus = new InProcessBus(), cfg = config) => {
    const sync = new LiveKitSync(new LiveKitProvisioner(cfg, { secrets: repos.platformSecrets, vault, requestTimeoutSeconds: 2 }), repos.livekitAgents, logger,
      { backoffBaseMs: 20, backoffMaxMs: 100 });
    sync.start((h) => bus.subscribe(h));
    syncs.push(sync);
    return { sync, bus };
  };

  it('logs a failure without secrets, keeps retrying with backoff, and catches up once LiveKit is back', async () => {
    await insertAgent('down-1', 'Waits');
    fake.unavailable = true;
    const { logger, lines } = capturingLogger();
    const { sync, bus } = startSync(logger);
    const event: DomainEvent = { type: 'agent.updated', tenantId: 't1', timestamp: new Date().toISOString(), data: { agent_id: 'down-1' } };
    await bus.publish(event);
    await waitFor('three failed attempts', () => (sync.failing().get('all') ?? 0) >= 3);
    assert.equal(ruleOf(fake, 'down-1'), undefined);
    const warnings = lines().map((l) => JSON.parse(l)).filter((l) => l.msg === 'LiveKit provisioning failed; will retry');
    assert.ok(warnings.length >= 3);
    assert.equal(warnings[0].err.status, 503);
    assert.ok(warnings.some((w) => w.attempt >= 3));
    const delays = warnings.filter((w) => w.job === 'all').map((w) => w.retryInMs);
    assert.ok(delays.at(-1) >= delays[0], 'the delay does not shrink');
    const logged = lines().join('\n');
    assert.ok(!logged.includes(fake.apiSecret), 'the API secret is never logged');

    fake.unavailable = false;
    await waitFor('the rule after LiveKit came back', () => ruleOf(fake, 'down-1') !== undefined);
    await waitFor('no job left failing', () => sync.failing().size === 0);
    const { password } = await new LiveKitProvisioner(config, { secrets: repos.platformSecrets, vault }).ensureInboundTrunk();
    assert.ok(!lines().join('\n').includes(password), 'the trunk password is never logged');
    await sync.stop();
  });

  it('survives a LiveKit that refuses connections, without an unhandled rejection', async () => {
    const closed = await startFakeLiveKit({ apiKey: fake.apiKey, apiSecret: fake.apiSecret });
    const url = closed.url;
    await closed.stop();
    const { logger, lines } = capturingLogger();
    const { sync } = startSync(logger, new InProcessBus(), { ...config, url });
    await waitFor('two failed attempts', () => (sync.failing().get('all') ?? 0) >= 2);
    const warning = lines().map((l) => JSON.parse(l)).find((l) => l.job === 'all');
    assert.equal(warning.err.cause, 'ECONNREFUSED');
    await sync.stop();
  });

  it('at start, prunes rules of agents that no longer exist and leaves rules it did not make alone', async () => {
    const { trunkId } = await new LiveKitProvisioner(config, { secrets: repos.platformSecrets, vault }).ensureInboundTrunk();
    const ghost = new SIPDispatchRuleInfo({
      sipDispatchRuleId: 'SDR_ghost', name: 'dialtone-agent-ghost', trunkIds: [trunkId], numbers: [livekitCalledUser('ghost')],
      rule: new SIPDispatchRule({ rule: { case: 'dispatchRuleDirect', value: new SIPDispatchRuleDirect({ roomName: 'x' }) } }),
    });
    const foreign = new SIPDispatchRuleInfo({
      sipDispatchRuleId: 'SDR_foreign', name: 'someone-elses-rule', trunkIds: ['ST_other'],
      rule: new SIPDispatchRule({ rule: { case: 'dispatchRuleDirect', value: new SIPDispatchRuleDirect({ roomName: 'y' }) } }),
    });
    // Named like ours but on another trunk: another system's, not to be touched.
    const lookalike = new SIPDispatchRuleInfo({
      sipDispatchRuleId: 'SDR_lookalike', name: 'dialtone-agent-elsewhere', trunkIds: ['ST_other'], numbers: ['z'],
      rule: new SIPDispatchRule({ rule: { case: 'dispatchRuleDirect', value: new SIPDispatchRuleDirect({ roomName: 'z' }) } }),
    });
    for (const r of [ghost, foreign, lookalike]) fake.rules.set(r.sipDispatchRuleId, r);
    await insertAgent('present', 'Present');
    const { sync } = startSync(pino({ level: 'silent' }));
    await waitFor('the start reconciliation', () => ruleOf(fake, 'present') !== undefined && !fake.rules.has('SDR_ghost'));
    await sync.idle();
    assert.ok(fake.rules.has('SDR_foreign'));
    assert.ok(fake.rules.has('SDR_lookalike'));
    assert.equal(fake.trunks.size, 1, 'the trunk is reused, not made again');
    await sync.stop();
  });
});
