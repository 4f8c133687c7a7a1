import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { AccessToken } from 'livekit-server-sdk';
import type { LiveKitConfig } from '../../src/config.js';
import { livekitCalledUser } from '../../src/livekit/names.js';
import { LiveKitProvisioner } from '../../src/livekit/provisioner.js';
import { createRepositories, type SqlRepositories } from '../../src/store/repositories/index.js';
import { Vault } from '../../src/vault/vault.js';
import { startFakeLiveKit, type FakeLiveKit } from '../helpers/livekit-twirp.js';
import { testDbs } from '../helpers/server.js';
import { openTestStore, type TestStore } from '../helpers/store.js';

for (const kind of testDbs()) {
  describe(`LiveKit provisioning (${kind})`, () => {
    let store: TestStore;
    let repos: SqlRepositories;
    let fake: FakeLiveKit;
    let vault: Vault;
    let config: LiveKitConfig;
    const provisioner = (over: Partial<LiveKitConfig> = {}) =>
      new LiveKitProvisioner({ ...config, ...over }, { secrets: repos.platformSecrets, vault });

    before(async () => {
      store = await openTestStore(kind);
      repos = createRepositories(store);
      vault = new Vault(randomBytes(32));
      fake = await startFakeLiveKit();
      config = { url: fake.url, apiKey: fake.apiKey, apiSecret: fake.apiSecret, sipUri: 'sip:project.sip.example' };
    });
    after(async () => {
      await fake.stop();
      await store.close();
    });

    describe('the inbound trunk', () => {
      it('is created once with generated digest credentials, X-headers mapped to attributes', async () => {
        const trunk = await provisioner().ensureInboundTrunk();
        assert.match(trunk.trunkId, /^ST_/);
        assert.match(trunk.username, /^dialtone_[0-9a-f]{12}$/);
        assert.ok(trunk.password.length >= 32);
        const [created] = fake.calls('CreateSIPInboundTrunk');
        assert.equal(created.status, 200);
        assert.equal(created.body.trunk.name, 'dialtone');
        assert.equal(created.body.trunk.authUsername, trunk.username);
        assert.equal(created.body.trunk.authPassword, trunk.password);
        assert.equal(created.body.trunk.includeHeaders, 'SIP_X_HEADERS');
        // The SDK signed it with our secret, as our key, with the SIP admin grant.
        assert.equal(created.claims?.iss, fake.apiKey);
        assert.deepEqual(created.claims?.sip, { admin: true });
        const stored = fake.trunks.get(trunk.trunkId);
        assert.equal(stored?.authPassword, trunk.password);
      });

      it('is reused after a restart, with the same credentials, and asked for once per process', async () => {
        const first = await provisioner().ensureInboundTrunk();
        const creates = fake.calls('CreateSIPInboundTrunk').length;
        const restarted = provisioner();
        const again = await restarted.ensureInboundTrunk();
        assert.deepEqual(again, first);
        await restarted.ensureInboundTrunk();
        assert.equal(fake.calls('CreateSIPInboundTrunk').length, creates);
        assert.equal(fake.trunks.size, 1);
      });

      it('keeps the password sealed in the database, never in clear', async () => {
        const { password, username } = await provisioner().ensureInboundTrunk();
        const rows = await store.db.selectFrom('platform_secrets').selectAll().execute();
        assert.equal(rows.length, 1);
        assert.match(rows[0].sealed_value, /^v1\./);
        assert.ok(!rows[0].sealed_value.includes(password));
        for (const file of store.files.filter((f) => existsSync(f))) {
          const bytes = readFileSync(file);
          assert.ok(!bytes.includes(password), `${file} holds the trunk password in clear`);
          assert.ok(!bytes.includes(username), `${file} holds the trunk username in clear`);
        }
        if (kind === 'sqlite') assert.ok(store.files.length > 0);
      });

      it('is made again, with the stored credentials, when someone deleted it in LiveKit', async () => {
        const before = await provisioner().ensureInboundTrunk();
        fake.trunks.clear();
        const after = await provisioner().ensureInboundTrunk();
        assert.notEqual(after.trunkId, before.trunkId);
        assert.equal(after.username, before.username);
        assert.equal(after.password, before.password);
        assert.equal(fake.trunks.get(after.trunkId)?.authPassword, before.password);
      });

      it('gets our credentials back when someone changed them in LiveKit', async () => {
        const ours = await provisioner().ensureInboundTrunk();
        fake.trunks.get(ours.trunkId)!.authPassword = 'changed-by-hand';
        fake.trunks.get(ours.trunkId)!.allowedAddresses = ['203.0.113.0/24'];
        await provisioner().ensureInboundTrunk();
        const trunk = fake.trunks.get(ours.trunkId)!;
        assert.equal(trunk.authPassword, ours.password);
        assert.deepEqual(trunk.allowedAddresses, ['203.0.113.0/24'], 'what the operator added is kept');
      });
    });

    describe('dispatch rules', () => {
      beforeEach(() => fake.rules.clear());

      it('one per agent: individual rooms on our trunk, matched by the called user, dispatching the agent', async () => {
        const p = provisioner();
        const { trunkId } = await p.ensureInboundTrunk();
        const ruleId = await p.syncAgent({ agentId: 'agent-1', tenantId: 't1', agentName: 'Front desk', lineIds: ['reg-b', 'reg-a'] });
        const rule = fake.rules.get(ruleId)!;
        assert.equal(rule.name, 'dialtone-agent-agent-1');
        assert.deepEqual(rule.trunkIds, [trunkId]);
        assert.deepEqual(rule.numbers, [livekitCalledUser('agent-1')]);
        assert.equal(rule.rule?.rule.case, 'dispatchRuleIndividual');
        assert.equal((rule.rule?.rule.value as { roomPrefix: string }).roomPrefix, 'dialtone-agent-1');
        assert.equal(rule.roomConfig?.agents.length, 1);
        assert.equal(rule.roomConfig?.agents[0].agentName, 'Front desk');
        assert.deepEqual(JSON.parse(rule.roomConfig!.agents[0].metadata), { agent_id: 'agent-1', tenant_id: 't1', line_ids: ['reg-a', 'reg-b'] });
        for (const r of fake.calls('CreateSIPDispatchRule').concat(fake.calls('UpdateSIPDispatchRule'))) {
          assert.deepEqual(r.claims?.sip, { admin: true });
        }

        const second = await p.syncAgent({ agentId: 'agent-2', tenantId: 't1', agentName: 'Sales', lineIds: [] });
        assert.notEqual(second, ruleId);
        // A call forwarded with each agent's called user reaches that agent's rule, and nobody else's.
        assert.equal(fake.matchRule(trunkId, livekitCalledUser('agent-1'))?.sipDispatchRuleId, ruleId);
        assert.equal(fake.matchRule(trunkId, livekitCalledUser('agent-2'))?.sipDispatchRuleId, second);
        assert.equal(fake.matchRule(trunkId, 'dialtone-someone-else'), null);
      });

      it('is updated in place on a rename or a line binding, and left alone when nothing changed', async () => {
        const p = provisioner();
        const creates = fake.calls('CreateSIPDispatchRule').length;
        const id = await p.syncAgent({ agentId: 'a1', tenantId: 't1', agentName: 'Old name', lineIds: [] });
        const updates = () => fake.calls('UpdateSIPDispatchRule').length;
        const u0 = updates();
        assert.equal(await p.syncAgent({ agentId: 'a1', tenantId: 't1', agentName: 'Old name', lineIds: [] }), id);
        assert.equal(updates(), u0, 'no change, no update');

        assert.equal(await p.syncAgent({ agentId: 'a1', tenantId: 't1', agentName: 'New name', lineIds: [] }), id);
        assert.equal(fake.rules.get(id)?.roomConfig?.agents[0].agentName, 'New name');
        assert.equal(await p.syncAgent({ agentId: 'a1', tenantId: 't1', agentName: 'New name', lineIds: ['reg-1'] }), id);
        assert.deepEqual(JSON.parse(fake.rules.get(id)!.metadata).line_ids, ['reg-1']);
        assert.deepEqual(JSON.parse(fake.rules.get(id)!.roomConfig!.agents[0].metadata).line_ids, ['reg-1']);
        assert.equal(fake.rules.size, 1);
        assert.equal(fake.calls('CreateSIPDispatchRule').length, creates + 1);
      });

      it('is deleted with the agent, and deleting what is gone is no error', async () => {
        const p = provisioner();
        await p.syncAgent({ agentId: 'gone', tenantId: 't1', agentName: 'Temp', lineIds: [] });
        await p.syncAgent({ agentId: 'stays', tenantId: 't1', agentName: 'Stays', lineIds: [] });
        await p.removeAgent('gone');
        assert.deepEqual(fake.rulesNamed('dialtone-agent-gone'), []);
        assert.equal(fake.rulesNamed('dialtone-agent-stays').length, 1);
        await p.removeAgent('gone');
      });

      it('collapses duplicates two instances made at once onto one rule', async () => {
        const p = provisioner();
        const id = await p.syncAgent({ agentId: 'dup', tenantId: 't1', agentName: 'Dup', lineIds: [] });
        const copy = fake.rules.get(id)!.clone();
        copy.sipDispatchRuleId = 'SDR_000copy';
        copy.numbers = ['elsewhere'];
        fake.rules.set(copy.sipDispatchRuleId, copy);
        const kept = await p.syncAgent({ agentId: 'dup', tenantId: 't1', agentName: 'Dup', lineIds: [] });
        assert.equal(fake.rulesNamed('dialtone-agent-dup').length, 1);
        assert.deepEqual(fake.rules.get(kept)?.numbers, [livekitCalledUser('dup')]);
      });

      it('refuses agent ids and names that cannot make a rule, before asking LiveKit anything', async () => {
        const p = provisioner();
        await p.ensureInboundTrunk();
        const before = fake.requests.length;
        for (const agentId of ['', 'has space', 'a@b', 'semi;colon', '../x', 'x'.repeat(200)]) {
          await assert.rejects(p.syncAgent({ agentId, tenantId: 't1', agentName: 'A', lineIds: [] }), /agent id/);
        }
        await assert.rejects(p.syncAgent({ agentId: 'ok', tenantId: 't1', agentName: '  ', lineIds: [] }), /agent name/);
        assert.throws(() => livekitCalledUser('a b'), /agent id/);
        assert.equal(fake.requests.length, before);
        assert.equal(fake.rules.size, 0);
      });
    });

    describe('credentials LiveKit refuses', () => {
      it('a wrong secret or key is refused, and nothing is provisioned', async () => {
        const trunks = fake.trunks.size;
        const wrongSecret = provisioner({ apiSecret: randomBytes(24).toString('base64url') });
        await assert.rejects(wrongSecret.ensureInboundTrunk(), (err: { status?: number; message: string }) => err.status === 401 && /signature/.test(err.message));
        const wrongKey = provisioner({ apiKey: 'APIsomeoneelse' });
        await assert.rejects(wrongKey.ensureInboundTrunk(), (err: { status?: number }) => err.status === 401);
        assert.equal(fake.trunks.size, trunks);
        assert.ok(fake.requests.some((r) => r.status === 401 && r.claims === null));
      });

      it('a token without the SIP admin grant is refused', async () => {
        const at = new AccessToken(fake.apiKey, fake.apiSecret, { ttl: '1m', identity: 'someone' });
        at.addGrant({ roomJoin: true, room: 'r' });
        const res = await fetch(`${fake.url}/twirp/livekit.SIP/ListSIPInboundTrunk`, {
          method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${await at.toJwt()}` }, body: '{}',
        });
        assert.equal(res.status, 403);
        assert.equal((await res.json()).code, 'permission_denied');
      });
    });
  });
}
