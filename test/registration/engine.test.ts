import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay } from '../../src/registration/backoff.js';
import { contactToken } from '../../src/registration/target.js';
import { SipResolveError, SipTransportError } from '../../src/sip/index.js';
import { makeEngine, timeout, TUNING } from './fakes.js';

describe('registration engine: the REGISTER it sends', () => {
  it('addresses the registrar, keeps Call-ID and raises CSeq, and points Contact at a per-line token', async () => {
    const { clock, sip, store, engine } = makeEngine();
    store.add('r1', { registrar: 'sip:someone@provider.example.com:5080;transport=tcp', username: 'alice', options: { auth_username: 'a-auth' } });
    await engine.start();
    await engine.settled();
    await clock.advance(1_800_000); // first refresh
    const [first, second] = sip.registers();
    assert.ok(first && second);
    assert.equal(first.uri, 'sip:provider.example.com:5080;transport=tcp');
    assert.equal(first.transport, 'tcp');
    assert.match(String(first.headers.From), /^<sip:alice@provider\.example\.com>;tag=\w+$/);
    assert.equal(first.headers.To, '<sip:alice@provider.example.com>');
    assert.equal(first.headers.Contact, `<sip:${contactToken('r1')}@192.0.2.10:5070;transport=tcp>`);
    assert.equal(first.headers.Expires, '3600');
    assert.deepEqual(first.credentials, { username: 'a-auth', password: 'pw' });
    assert.equal(second.headers['Call-ID'], first.headers['Call-ID']);
    assert.equal(second.headers.From, first.headers.From);
    assert.ok(parseInt(String(second.headers.CSeq)) > parseInt(String(first.headers.CSeq)));
    assert.deepEqual(store.reports.map((r) => r.state), ['registering', 'registered']);
    await engine.close();
  });

  it('takes options.expires and options.transport', async () => {
    const { sip, store, engine } = makeEngine();
    store.add('r1', { registrar: 'provider.example.com', options: { expires: 300, transport: 'tls' } });
    await engine.start();
    await engine.settled();
    assert.equal(sip.registers()[0]!.uri, 'sip:provider.example.com;transport=tls');
    assert.equal(sip.registers()[0]!.headers.Expires, '300');
    await engine.close();
  });

  it('advertises the TLS listener port for TLS lines, sips: for a sips: registrar, and the TCP port without a listener', async () => {
    const { sip, store, engine } = makeEngine();
    sip.ports = { udpPort: 5070, tcpPort: 5070, tlsPort: 5071 };
    store.add('r1', { registrar: 'sip:provider.example.com;transport=tls' });
    store.add('r2', { registrar: 'sips:secure.example.com' });
    store.add('r3', { registrar: 'sip:plain.example.com;transport=tcp' });
    await engine.start();
    await engine.settled();
    const contactFor = (host: string) => sip.registers().find((r) => r.uri.includes(host))!.headers.Contact;
    assert.equal(contactFor('provider.example.com'), `<sip:${contactToken('r1')}@192.0.2.10:5071;transport=tls>`);
    assert.equal(contactFor('secure.example.com'), `<sips:${contactToken('r2')}@192.0.2.10:5071>`);
    assert.equal(contactFor('plain.example.com'), `<sip:${contactToken('r3')}@192.0.2.10:5070;transport=tcp>`);
    await engine.close();

    const bare = makeEngine(); // no certificate configured: no TLS listener
    bare.store.add('r4', { registrar: 'sips:secure.example.com' });
    await bare.engine.start();
    await bare.engine.settled();
    assert.equal(bare.sip.registers()[0]!.headers.Contact, `<sip:${contactToken('r4')}@192.0.2.10:5070;transport=tls>`);
    await bare.engine.close();
  });
});

describe('registration engine: refresh', () => {
  it('refreshes at half the expiry the registrar granted on our Contact', async () => {
    const { clock, sip, store, engine } = makeEngine();
    store.add('r1');
    sip.answer = (req) => ({ status: 200, headers: { Contact: `${String(req.headers.Contact)};expires=120, <sip:other@198.51.100.9>;expires=3000`, Expires: '3600' } });
    await engine.start();
    await engine.settled();
    assert.equal(sip.registers().length, 1);
    await clock.advance(59_000);
    assert.equal(sip.registers().length, 1);
    await clock.advance(1_000);
    assert.equal(sip.registers().length, 2);
    assert.equal(sip.registers()[1]!.at, 60_000);
    await engine.close();
  });

  it('refreshes at least 5 s before a short binding runs out', async () => {
    const { clock, sip, store, engine } = makeEngine();
    store.add('r1');
    sip.answer = () => ({ status: 200, headers: { Expires: '8' } });
    await engine.start();
    await engine.settled();
    await clock.advance(3_000);
    assert.equal(sip.registers().length, 2, 'refresh at 8 - 5 = 3 s, not at 4 s');
    await engine.close();
  });

  it('re-registers once with the address the registrar saw in Via received/rport', async () => {
    const { sip, store, engine } = makeEngine();
    store.add('r1');
    sip.answer = (req) => ({ status: 200, headers: { Expires: String(req.headers.Expires) }, via: { received: '203.0.113.7', rport: 40123 } });
    await engine.start();
    await engine.settled();
    assert.equal(sip.registers().length, 2);
    assert.equal(sip.registers()[1]!.headers.Contact, `<sip:${contactToken('r1')}@203.0.113.7:40123>`);
    assert.equal(store.last('r1')!.state, 'registered');
    await engine.close();
  });
});

describe('registration engine: failures', () => {
  it('backoff grows exponentially with jitter between half and all of it, and is capped', () => {
    const t = { backoffBaseMs: 1000, backoffMaxMs: 10_000 };
    assert.equal(backoffDelay(1, t, () => 0), 500);
    assert.equal(backoffDelay(1, t, () => 1), 1000);
    assert.equal(backoffDelay(3, t, () => 0), 2000);
    assert.equal(backoffDelay(3, t, () => 1), 4000);
    assert.equal(backoffDelay(10, t, () => 1), 10_000);
    assert.equal(backoffDelay(10, t, () => 0), 5_000);
    for (let i = 0; i < 100; i++) {
      const d = backoffDelay(2, t, Math.random);
      assert.ok(d >= 1000 && d <= 2000, String(d));
    }
  });

  it('says the registrar did not answer, moves to failed after 3 failures and keeps retrying with growing waits', async () => {
    const { clock, sip, store, engine } = makeEngine({}, () => 1);
    store.add('r1');
    sip.answer = () => timeout();
    await engine.start();
    await engine.settled();
    assert.deepEqual(store.last('r1'), { id: 'r1', generation: 1, state: 'registering', error: 'registrar provider.example.com did not answer REGISTER over UDP after 32 s' });
    await clock.advance(5_000);
    assert.equal(sip.registers().length, 2);
    assert.equal(store.last('r1')!.state, 'registering');
    await clock.advance(10_000);
    assert.equal(sip.registers().length, 3);
    assert.equal(store.last('r1')!.state, 'failed');
    assert.equal(store.regs.get('r1')!.status, 'active', 'still active: it keeps trying');
    const gaps = [];
    for (let i = 0; i < 3; i++) {
      const wait = clock.nextTimerIn()!;
      gaps.push(wait);
      await clock.advance(wait);
    }
    assert.deepEqual(gaps, [20_000, 40_000, 80_000]);
    // then succeeds: registered, error cleared
    sip.answer = (req) => ({ status: 200, headers: { Expires: String(req.headers.Expires) } });
    await clock.advance(clock.nextTimerIn()!);
    assert.deepEqual(store.last('r1'), { id: 'r1', generation: 1, state: 'registered', error: null });
    await engine.close();
  });

  it('gives up with status failed after the maximum number of attempts', async () => {
    const { clock, sip, store, engine } = makeEngine({ maxAttemptsBeforeGivingUp: 4, backoffBaseMs: 100, backoffMaxMs: 1000 });
    store.add('r1');
    sip.answer = () => new SipResolveError('provider.example.com');
    await engine.start();
    await clock.advance(60_000);
    assert.equal(sip.registers().length, 4);
    assert.equal(store.regs.get('r1')!.status, 'failed');
    assert.equal(store.last('r1')!.status, 'failed');
    assert.match(store.last('r1')!.error!, /^no address for provider\.example\.com \(gave up after 4 attempts\)$/);
    await clock.advance(3_600_000);
    assert.equal(sip.registers().length, 4, 'no REGISTER after giving up');
  });

  it('retries at once with Min-Expires after 423 and says so', async () => {
    const { sip, store, engine } = makeEngine();
    store.add('r1', { options: { expires: 60 } });
    sip.answer = (req) => Number(req.headers.Expires) < 3600
      ? { status: 423, headers: { 'Min-Expires': '3600' } }
      : { status: 200, headers: { Expires: '3600' } };
    await engine.start();
    await engine.settled();
    assert.deepEqual(sip.registers().map((r) => r.headers.Expires), ['60', '3600']);
    assert.deepEqual(store.reports.map((r) => [r.state, r.error]), [
      ['registering', null], ['registering', '423 Interval Too Brief, retried with 3600 s'], ['registered', null],
    ]);
    await engine.close();
  });

  it('treats a second challenge as rejected credentials and stops for good', async () => {
    const { clock, sip, store, engine } = makeEngine();
    store.add('r1');
    sip.answer = () => ({ status: 401, authRejected: true });
    await engine.start();
    await engine.settled();
    assert.deepEqual(store.last('r1'), { id: 'r1', generation: 1, state: 'failed', status: 'failed', error: 'credentials rejected by registrar (401 after authentication)' });
    await clock.advance(3_600_000);
    assert.equal(sip.registers().length, 1);
  });

  it('stops at once on 403 naming the rejection', async () => {
    const { store, sip, engine } = makeEngine();
    store.add('r1');
    sip.answer = () => ({ status: 403 });
    await engine.start();
    await engine.settled();
    assert.equal(store.last('r1')!.status, 'failed');
    assert.equal(store.last('r1')!.error, 'registrar provider.example.com rejected the registration: 403 Forbidden');
  });

  it('retries 503 after Retry-After when that is longer than the backoff', async () => {
    const { clock, sip, store, engine } = makeEngine({}, () => 0);
    store.add('r1');
    sip.answer = () => ({ status: 503, headers: { 'Retry-After': '30' } });
    await engine.start();
    await engine.settled();
    assert.equal(store.last('r1')!.error, 'registrar provider.example.com answered 503 Service Unavailable');
    assert.equal(clock.nextTimerIn(), 30_000);
    await engine.close();
  });

  it('follows 3xx to the Contact, at most 5 times', async () => {
    const { sip, store, engine } = makeEngine();
    store.add('r1');
    sip.answer = (req) => req.uri.includes('other') ? { status: 200, headers: { Expires: '600' } } : { status: 302, headers: { Contact: '<sip:other.example.com:5090>' } };
    await engine.start();
    await engine.settled();
    assert.deepEqual(sip.registers().map((r) => r.uri), ['sip:provider.example.com', 'sip:other.example.com:5090']);
    assert.equal(sip.registers()[1]!.headers.To, '<sip:user-r1@provider.example.com>');
    assert.equal(store.last('r1')!.state, 'registered');

    const loop = makeEngine();
    loop.store.add('r2');
    loop.sip.answer = () => ({ status: 302, headers: { Contact: '<sip:loop.example.com>' } });
    await loop.engine.start();
    await loop.engine.settled();
    assert.equal(loop.sip.registers().length, 6);
    assert.equal(loop.store.last('r2')!.error, 'registrar provider.example.com redirected more than 5 times');
    await loop.engine.close();
    await engine.close();
  });

  it('describes TLS and connection errors', async () => {
    const { sip, store, engine } = makeEngine();
    store.add('r1', { options: { transport: 'tls' } });
    sip.answer = () => new SipTransportError('tls', 'TLS: certificate has expired (provider.example.com:5061 over TLS)', 'CERT_HAS_EXPIRED');
    await engine.start();
    await engine.settled();
    assert.equal(store.last('r1')!.error, 'TLS: certificate has expired');
    await engine.close();
  });
});

describe('registration engine: lifecycle', () => {
  it('drops an attempt whose generation went stale', async () => {
    const { clock, sip, store, engine } = makeEngine();
    store.add('r1');
    await engine.start();
    await engine.settled();
    store.regs.get('r1')!.generation = 2; // re-activated elsewhere; the event has not arrived here
    sip.answer = () => timeout();
    await clock.advance(3_600_000);
    const count = sip.registers().length;
    await clock.advance(3_600_000);
    assert.equal(sip.registers().length, count, 'no more REGISTERs for the stale line');
    assert.ok(store.reports.every((r) => r.generation === 1));
  });

  it('paces a burst of activations at the configured rate', async () => {
    const { clock, sip, store, engine } = makeEngine({ registersPerSecond: 10 });
    for (let i = 0; i < 50; i++) store.add(`r${i}`);
    await engine.start();
    await engine.settled();
    assert.equal(sip.registers().length, 1, 'a burst of 1 (a tenth of a second)');
    await clock.advance(1_000);
    assert.ok(sip.registers().length >= 10 && sip.registers().length <= 12, String(sip.registers().length));
    await clock.advance(4_000);
    assert.equal(sip.registers().length, 50);
    await engine.close();
  });

  it('de-registers on disable, re-registers on update with a new generation, ignores same-generation updates', async () => {
    const { clock, sip, store, engine, emit } = makeEngine();
    store.add('r1');
    await engine.start();
    await engine.settled();
    await emit('registration.updated', 'r1', 1); // a state report, not a change
    assert.equal(sip.registers().length, 1);

    const reg = store.regs.get('r1')!;
    reg.generation = 2;
    reg.password = 'new';
    await emit('registration.updated', 'r1', 2);
    assert.deepEqual(sip.registers().map((r) => [r.headers.Expires, r.credentials?.password]), [['3600', 'pw'], ['0', 'pw'], ['3600', 'new']]);

    reg.status = 'disabled';
    await emit('registration.disabled', 'r1', 2);
    assert.equal(sip.registers().at(-1)!.headers.Expires, '0');
    const count = sip.registers().length;
    await clock.advance(7_200_000);
    assert.equal(sip.registers().length, count, 'no refresh after disable');
    await engine.close();
  });

  it('re-arms a failed registration on activate and de-registers held lines on close', async () => {
    const { sip, store, engine, emit } = makeEngine();
    store.add('r1');
    sip.answer = () => ({ status: 403 });
    await engine.start();
    await engine.settled();
    assert.equal(store.regs.get('r1')!.status, 'failed');
    Object.assign(store.regs.get('r1')!, { status: 'active', state: 'initial', generation: 2 });
    sip.answer = (req) => ({ status: 200, headers: { Expires: String(req.headers.Expires) } });
    await emit('registration.activated', 'r1', 2);
    assert.equal(store.last('r1')!.state, 'registered');
    await engine.close();
    assert.equal(sip.registers().at(-1)!.headers.Expires, '0');
  });

  it('maps a request to our Contact back to its registration', async () => {
    const { store, engine } = makeEngine();
    store.add('r1');
    await engine.start();
    await engine.settled();
    assert.equal(engine.registrationForContact(contactToken('r1')), 'r1');
    assert.equal(engine.registrationForContact('nobody'), null);
    await engine.close();
  });
});

void TUNING;

describe('registration engine: leases between instances', () => {
  it('registers only lines whose lease it holds, drops a line whose lease it lost, and picks up freed ones', async () => {
    const { clock, sip, store } = makeEngine();
    const held = new Set<string>();
    const released: string[] = [];
    const othersHold = new Set<string>(['r2']);
    const leases = {
      owner: 'me',
      async claim(id: string) { if (othersHold.has(id)) return false; held.add(id); return true; },
      async renew(ids: string[]) { return new Set(ids.filter((id) => held.has(id) && !othersHold.has(id))); },
      async release(ids: string[]) { released.push(...ids); },
      async unclaimed() { return [...store.regs.keys()].filter((id) => !held.has(id) && !othersHold.has(id)); },
      async activeCount() { return store.regs.size; },
    };
    const { RegistrationEngine } = await import('../../src/registration/engine.js');
    const engine = new RegistrationEngine({ sip, store, clock, tuning: TUNING, random: () => 0.5, leases: { port: leases, ttlMs: 3_000 } });
    store.add('r1');
    store.add('r2');
    await engine.start();
    await engine.settled();
    assert.deepEqual(sip.registers().map((r) => r.headers.Contact), [`<sip:${contactToken('r1')}@192.0.2.10:5070>`]);

    othersHold.add('r1'); // another instance took r1 over
    othersHold.delete('r2'); // and let r2 go
    await clock.advance(1_000);
    await engine.settled();
    assert.equal(engine.registrationForContact(contactToken('r1')), null);
    assert.equal(engine.registrationForContact(contactToken('r2')), 'r2');
    assert.equal(sip.registers().at(-1)!.headers.Contact, `<sip:${contactToken('r2')}@192.0.2.10:5070>`);
    await engine.close();
    assert.deepEqual(released, ['r2'], 'the lease it held is released on close');
  });
});

describe('registration engine: fair shares in a cluster', () => {
  it('holds at most ceil(lines / instances), gives back only the excess when an instance joins, and then stays put', async () => {
    const { clock, sip, store } = makeEngine();
    const { RegistrationEngine } = await import('../../src/registration/engine.js');
    const held = new Map<string, string>();
    const leasesFor = (owner: string) => ({
      owner,
      async claim(id: string) { const h = held.get(id); if (h && h !== owner) return false; held.set(id, owner); return true; },
      async renew(ids: string[]) { return new Set(ids.filter((id) => held.get(id) === owner)); },
      async release(ids: string[]) { for (const id of ids) if (held.get(id) === owner) held.delete(id); },
      async unclaimed() { return [...store.regs.keys()].filter((id) => !held.has(id)); },
      async activeCount() { return store.regs.size; },
    });
    const count = (owner: string) => [...held.values()].filter((o) => o === owner).length;
    for (let i = 0; i < 10; i++) store.add(`r${i}`);
    let instances = 1;
    const make = (owner: string) => new RegistrationEngine({
      sip, store, clock, tuning: TUNING, random: Math.random, leases: { port: leasesFor(owner), ttlMs: 3_000, instances: async () => instances },
    });
    const a = make('a');
    await a.start();
    await a.settled();
    assert.equal(count('a'), 10, 'alone, it holds every line');

    instances = 2; // b has joined the cluster
    await clock.advance(1_000);
    await a.settled();
    assert.equal(count('a'), 5, 'it gives back what is above ceil(10 / 2)');
    assert.equal(sip.registers().filter((r) => r.headers.Expires === '0').length, 5, 'and de-registers those lines');
    const b = make('b');
    await b.start();
    await b.settled();
    assert.equal(count('b'), 5, 'the newcomer takes the lines given back');

    const before = new Map(held);
    const sent = sip.registers().length;
    for (let i = 0; i < 3; i++) { await clock.advance(1_000); await a.settled(); await b.settled(); }
    assert.deepEqual(held, before, 'no line moves once the shares are even');
    assert.equal(sip.registers().length, sent, 'and nothing is re-registered');
    await a.close();
    await b.close();
  });
});

describe('registration engine: a restart after a crash', () => {
  it('re-registers its own lines at once, not at their old refresh time, under a new Call-ID, and says registering first', async () => {
    const { clock, sip, store } = makeEngine();
    const { RegistrationEngine } = await import('../../src/registration/engine.js');
    const held = new Map<string, string>();
    const leasesFor = (owner: string) => ({
      owner,
      async claim(id: string) { const h = held.get(id); if (h && h !== owner) return false; held.set(id, owner); return true; },
      async renew(ids: string[]) { return new Set(ids.filter((id) => held.get(id) === owner)); },
      async release(ids: string[]) { for (const id of ids) if (held.get(id) === owner) held.delete(id); },
      async unclaimed() { return [...store.regs.keys()].filter((id) => !held.has(id)); },
      async activeCount() { return store.regs.size; },
    });
    store.add('r1', { options: { transport: 'tcp' } });
    store.add('r2');
    const first = new RegistrationEngine({ sip, store, clock, tuning: TUNING, random: () => 0.5, leases: { port: leasesFor('host:5060'), ttlMs: 60_000 } });
    await first.start();
    await first.settled();
    await clock.advance(600_000); // well into the 30 min refresh interval
    assert.equal(sip.registers().length, 2);
    const before = new Map(sip.registers().map((r) => [r.headers.Contact, r.headers['Call-ID']]));

    // kill -9: no de-registration, no release; the leases stay with the dead process's name.
    // The restarted process has the same name and the same fake store; the old engine is simply gone.
    const crashedAt = clock.now();
    store.reports.length = 0;
    const restarted = new RegistrationEngine({ sip, store, clock, tuning: TUNING, random: () => 0.5, leases: { port: leasesFor('host:5060'), ttlMs: 60_000 } });
    await restarted.start();
    await restarted.settled();
    const again = sip.registers().slice(2);
    assert.equal(again.length, 2, 'both lines REGISTERed again at once');
    assert.ok(again.every((r) => r.at === crashedAt), 'without waiting for any timer');
    for (const r of again) {
      assert.notEqual(r.headers['Call-ID'], before.get(r.headers.Contact), 'a new Call-ID, so the registrar replaces the binding despite CSeq starting over');
      assert.equal(r.headers.CSeq, '1 REGISTER');
    }
    assert.deepEqual(store.reports.filter((x) => x.id === 'r1').map((x) => x.state), ['registering', 'registered'],
      'the stored registered was the dead process\'s; this one says registering until its own REGISTER succeeds');
    assert.equal(restarted.stats().registered, 2);
    await restarted.close();
  });

  it('does not take a line another live instance holds, and paces a large resume', async () => {
    const { clock, sip, store } = makeEngine({ registersPerSecond: 10 });
    const { RegistrationEngine } = await import('../../src/registration/engine.js');
    for (let i = 0; i < 30; i++) store.add(`r${i}`);
    const leases = {
      owner: 'host:5060',
      async claim(id: string) { return id !== 'r0'; }, // r0 is another instance's
      async renew(ids: string[]) { return new Set(ids); },
      async release() {},
      async unclaimed() { return []; },
      async activeCount() { return store.regs.size; },
    };
    const engine = new RegistrationEngine({ sip, store, clock, tuning: { ...TUNING, registersPerSecond: 10 }, random: () => 0.5, leases: { port: leases, ttlMs: 60_000 } });
    await engine.start();
    await engine.settled();
    assert.ok(sip.registers().length <= 2, 'a burst of a tenth of a second, not all at once');
    await clock.advance(3_000);
    assert.equal(sip.registers().length, 29, 'all own lines within 3 s at 10 per second');
    assert.equal(engine.registrationForContact(contactToken('r0')), null);
    await engine.close();
  });
});
