import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRepositories, type SqlRepositories } from '../../../src/store/repositories/index.js';
import { testDbs } from '../../helpers/server.js';
import { openTestStore, type TestStore } from '../../helpers/store.js';

for (const kind of testDbs()) {
  describe(`platform secret repository (${kind})`, () => {
    let store: TestStore;
    let repos: SqlRepositories;
    before(async () => {
      store = await openTestStore(kind);
      repos = createRepositories(store);
    });
    after(() => store.close());

    it('has nothing under a key never written', async () => {
      assert.equal(await repos.platformSecrets.get('livekit.inbound_trunk'), null);
    });

    it('keeps the first value written under a key and hands it to later writers', async () => {
      const at = '2026-12-03T00:00:00.000Z';
      assert.equal(await repos.platformSecrets.putIfAbsent('k', 'v1.first', at), 'v1.first');
      assert.equal(await repos.platformSecrets.putIfAbsent('k', 'v1.second', at), 'v1.first');
      assert.equal(await repos.platformSecrets.get('k'), 'v1.first');
    });

    it('settles two writers racing on one key on a single value', async () => {
      const at = '2026-12-03T00:00:00.000Z';
      const [a, b] = await Promise.all([
        repos.platformSecrets.putIfAbsent('race', 'v1.a', at),
        repos.platformSecrets.putIfAbsent('race', 'v1.b', at),
      ]);
      assert.equal(a, b);
      assert.equal(await repos.platformSecrets.get('race'), a);
    });
  });
}
