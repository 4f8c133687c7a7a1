import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SipResolveError } from '../../src/sip/errors.js';
import { orderSrv, Resolver, type DnsLike, type SrvRecordLike } from '../../src/sip/resolver.js';

function notFound(): Promise<never> {
  return Promise.reject(Object.assign(new Error('queryA ENOTFOUND'), { code: 'ENOTFOUND' }));
}

/** In-memory DNS that records every query it answers. */
function fakeDns(zone: { srv?: Record<string, SrvRecordLike[]>; a?: Record<string, string[]>; aaaa?: Record<string, string[]> }): DnsLike & { queries: string[] } {
  const queries: string[] = [];
  return {
    queries,
    resolveSrv: (name) => (queries.push(`SRV ${name}`), zone.srv?.[name] ? Promise.resolve(zone.srv[name]!) : notFound()),
    resolve4: (host) => (queries.push(`A ${host}`), zone.a?.[host] ? Promise.resolve(zone.a[host]!) : notFound()),
    resolve6: (host) => (queries.push(`AAAA ${host}`), zone.aaaa?.[host] ? Promise.resolve(zone.aaaa[host]!) : notFound()),
  };
}

describe('Resolver', () => {
  it('uses numeric hosts as they are, with the default port per transport', async () => {
    const dns = fakeDns({});
    const r = new Resolver(dns);
    assert.deepEqual(await r.resolve('192.0.2.1', undefined, 'udp'), [{ address: '192.0.2.1', port: 5060, transport: 'udp', hostname: '192.0.2.1' }]);
    assert.equal((await r.resolve('[2001:db8::1]', undefined, 'tls'))[0]!.port, 5061);
    assert.equal((await r.resolve('2001:db8::1', 5080, 'tcp'))[0]!.address, '2001:db8::1');
    assert.deepEqual(dns.queries, []);
  });

  it('skips SRV when the URI has an explicit port', async () => {
    const dns = fakeDns({ a: { 'sip.example.com': ['192.0.2.7'] }, aaaa: { 'sip.example.com': ['2001:db8::7'] } });
    const out = await new Resolver(dns).resolve('sip.example.com', 5070, 'udp');
    assert.deepEqual(out.map((t) => `${t.address}:${t.port}`), ['192.0.2.7:5070', '2001:db8::7:5070']);
    assert.ok(!dns.queries.some((q) => q.startsWith('SRV')));
  });

  it('follows SRV records by priority for each transport', async () => {
    const zone = {
      srv: {
        '_sip._udp.example.com': [
          { name: 'backup.example.com', port: 5080, priority: 20, weight: 0 },
          { name: 'primary.example.com', port: 5060, priority: 10, weight: 5 },
        ],
        '_sip._tcp.example.com': [{ name: 'tcp.example.com', port: 5062, priority: 1, weight: 0 }],
        '_sips._tcp.example.com': [{ name: 'tls.example.com', port: 5063, priority: 1, weight: 0 }],
      },
      a: { 'primary.example.com': ['192.0.2.10'], 'backup.example.com': ['192.0.2.20'], 'tcp.example.com': ['192.0.2.30'], 'tls.example.com': ['192.0.2.40'] },
    };
    const r = new Resolver(fakeDns(zone));
    const udp = await r.resolve('example.com', undefined, 'udp');
    assert.deepEqual(udp.map((t) => `${t.address}:${t.port}`), ['192.0.2.10:5060', '192.0.2.20:5080']);
    assert.equal(udp[0]!.hostname, 'example.com');
    assert.deepEqual((await r.resolve('example.com', undefined, 'tcp')).map((t) => `${t.address}:${t.port}`), ['192.0.2.30:5062']);
    assert.deepEqual((await r.resolve('example.com', undefined, 'tls')).map((t) => `${t.address}:${t.port}/${t.transport}`), ['192.0.2.40:5063/tls']);
  });

  it('falls back to A/AAAA on the default port without SRV', async () => {
    const r = new Resolver(fakeDns({ a: { 'pbx.example.net': ['198.51.100.5'] } }));
    assert.deepEqual((await r.resolve('pbx.example.net', undefined, 'tls')).map((t) => `${t.address}:${t.port}`), ['198.51.100.5:5061']);
    assert.deepEqual((await r.resolve('pbx.example.net', undefined, 'udp')).map((t) => `${t.address}:${t.port}`), ['198.51.100.5:5060']);
  });

  it('uses the getaddrinfo fallback for names only in /etc/hosts', async () => {
    const dns = { ...fakeDns({}), lookup: async () => [{ address: '127.0.0.1', family: 4 }] };
    assert.equal((await new Resolver(dns).resolve('localhost', 5060, 'udp'))[0]!.address, '127.0.0.1');
  });

  it('fails with a typed "no address for" error', async () => {
    const r = new Resolver(fakeDns({ srv: { '_sip._udp.dead.example.com': [{ name: 'gone.example.com', port: 5060, priority: 1, weight: 1 }] } }));
    await assert.rejects(r.resolve('provider.example.com', undefined, 'udp'), (err: unknown) => {
      assert.ok(err instanceof SipResolveError);
      assert.equal(err.kind, 'resolve');
      assert.equal(err.message, 'no address for provider.example.com');
      return true;
    });
    await assert.rejects(r.resolve('dead.example.com', undefined, 'udp'), /no address for dead\.example\.com/);
  });
});

describe('orderSrv', () => {
  it('orders by priority and picks by weight within a priority', () => {
    const recs = [
      { name: 'c', port: 1, priority: 2, weight: 0 },
      { name: 'a', port: 1, priority: 1, weight: 90 },
      { name: 'b', port: 1, priority: 1, weight: 10 },
    ];
    // Cumulative weights are [b: 0-10, a: 10-100] out of 100: random() 0.05 picks b, 0.5 picks a.
    assert.deepEqual(orderSrv(recs, () => 0.05).map((r) => r.name), ['b', 'a', 'c']);
    assert.deepEqual(orderSrv(recs, () => 0.5).map((r) => r.name), ['a', 'b', 'c']);
    let aFirst = 0;
    for (let i = 0; i < 400; i++) if (orderSrv(recs)[0]!.name === 'a') aFirst++;
    assert.ok(aFirst > 300 && aFirst < 395, `a first ${aFirst} / 400`);
  });
});
