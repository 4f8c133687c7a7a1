/** Transaction state machines and matching, driven by a manual clock (no sockets). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createResponse, SipRequest, SipResponse } from '../../src/sip/message.js';
import { parseMessage } from '../../src/sip/parser.js';
import { ClientInviteTransaction, ClientNonInviteTransaction, type ClientTransactionEvents } from '../../src/sip/transaction/client.js';
import { TransactionLayer } from '../../src/sip/transaction/layer.js';
import { ServerInviteTransaction, ServerNonInviteTransaction } from '../../src/sip/transaction/server.js';
import { DEFAULT_TIMERS } from '../../src/sip/transaction/timers.js';
import type { MessageSource } from '../../src/sip/transport/types.js';
import { ManualClock } from './helpers.js';

function request(method: string, branch = 'z9hG4bKtest1', extra = ''): SipRequest {
  const msg = parseMessage(
    `${method} sip:bob@biloxi.com SIP/2.0\r\nVia: SIP/2.0/UDP pc33.atlanta.com:5060;branch=${branch}\r\nMax-Forwards: 70\r\n` +
      `To: <sip:bob@biloxi.com>${extra}\r\nFrom: <sip:alice@atlanta.com>;tag=1928301774\r\nCall-ID: a84b4c76e66710\r\n` +
      `CSeq: 314159 ${method}\r\nContent-Length: 0\r\n\r\n`,
  );
  assert.ok(msg instanceof SipRequest);
  return msg;
}

function recorder(clock: ManualClock) {
  const sent: Array<{ at: number; msg: SipRequest | SipResponse }> = [];
  return {
    sent,
    send: async (msg: SipRequest | SipResponse): Promise<void> => {
      sent.push({ at: clock.now(), msg });
    },
    times: () => sent.map((s) => s.at),
  };
}

function events() {
  const log: string[] = [];
  const finals: SipResponse[] = [];
  const ev: ClientTransactionEvents = {
    onProvisional: (r) => log.push(`prov ${r.status}`),
    onFinal: (r) => (finals.push(r), log.push(`final ${r.status}`)),
    onTimeout: () => log.push('timeout'),
    onTransportError: (e) => log.push(`error ${e.message}`),
    onTerminated: () => log.push('terminated'),
  };
  return { ev, log, finals };
}

describe('client non-INVITE transaction', () => {
  it('retransmits with Timer E doubling to T2 and times out with Timer F', () => {
    const clock = new ManualClock();
    const rec = recorder(clock);
    const { ev, log } = events();
    const tx = new ClientNonInviteTransaction(request('OPTIONS'), { send: rec.send, reliable: false, clock, timers: DEFAULT_TIMERS }, ev);
    tx.start();
    clock.advance(31_999);
    assert.deepEqual(rec.times(), [0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
    assert.deepEqual(log, []);
    clock.advance(1);
    assert.deepEqual(log, ['terminated', 'timeout']);
    assert.equal(tx.state, 'terminated');
    assert.equal(clock.pending, 0);
  });

  it('goes to T2 retransmissions once a provisional arrives', () => {
    const clock = new ManualClock();
    const rec = recorder(clock);
    const { ev, log } = events();
    const req = request('REGISTER');
    const tx = new ClientNonInviteTransaction(req, { send: rec.send, reliable: false, clock, timers: DEFAULT_TIMERS }, ev);
    tx.start();
    clock.advance(600);
    tx.receiveResponse(createResponse(req, 100));
    clock.advance(10_000 - 600);
    assert.deepEqual(rec.times(), [0, 500, 1500, 5500, 9500]);
    assert.deepEqual(log, ['prov 100']);
  });

  it('delivers the final response once, absorbs retransmissions, then lingers T4 (Timer K)', () => {
    const clock = new ManualClock();
    const rec = recorder(clock);
    const { ev, log } = events();
    const req = request('OPTIONS');
    const tx = new ClientNonInviteTransaction(req, { send: rec.send, reliable: false, clock, timers: DEFAULT_TIMERS }, ev);
    tx.start();
    const ok = createResponse(req, 200);
    tx.receiveResponse(ok);
    tx.receiveResponse(ok);
    assert.equal(tx.state, 'completed');
    clock.advance(4_999);
    assert.equal(rec.sent.length, 1, 'no retransmission after the final response');
    assert.deepEqual(log, ['final 200']);
    clock.advance(1);
    assert.deepEqual(log, ['final 200', 'terminated']);
  });

  it('does not retransmit over reliable transports and terminates at once', () => {
    const clock = new ManualClock();
    const rec = recorder(clock);
    const { ev, log } = events();
    const req = request('OPTIONS');
    const tx = new ClientNonInviteTransaction(req, { send: rec.send, reliable: true, clock, timers: { T1: 20, T2: 160, T4: 200 } }, ev);
    tx.start();
    clock.advance(1_000);
    assert.equal(rec.sent.length, 1);
    assert.deepEqual(log, []);
    clock.advance(280);
    assert.deepEqual(log, ['terminated', 'timeout'], 'Timer F is 64*T1 = 1280 ms');
  });

  it('reports a transport error', async () => {
    const clock = new ManualClock();
    const { ev, log } = events();
    const tx = new ClientNonInviteTransaction(request('OPTIONS'), { send: () => Promise.reject(new Error('boom')), reliable: true, clock, timers: DEFAULT_TIMERS }, ev);
    tx.start();
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(log, ['terminated', 'error boom']);
    assert.equal(clock.pending, 0);
  });
});

describe('client INVITE transaction', () => {
  it('retransmits with Timer A (no cap) until Timer B', () => {
    const clock = new ManualClock();
    const rec = recorder(clock);
    const { ev, log } = events();
    new ClientInviteTransaction(request('INVITE'), { send: rec.send, reliable: false, clock, timers: DEFAULT_TIMERS }, ev).start();
    clock.advance(32_000);
    assert.deepEqual(rec.times(), [0, 500, 1500, 3500, 7500, 15500, 31500]);
    assert.deepEqual(log, ['terminated', 'timeout']);
  });

  it('ACKs a non-2xx final response on the same branch, again on retransmission', () => {
    const clock = new ManualClock();
    const rec = recorder(clock);
    const { ev, log } = events();
    const invite = request('INVITE');
    const tx = new ClientInviteTransaction(invite, { send: rec.send, reliable: false, clock, timers: DEFAULT_TIMERS }, ev);
    tx.start();
    tx.receiveResponse(createResponse(invite, 180, undefined, { toTag: 'callee' }));
    const busy = createResponse(invite, 486, undefined, { toTag: 'callee' });
    tx.receiveResponse(busy);
    tx.receiveResponse(busy);
    const acks = rec.sent.map((s) => s.msg).filter((m): m is SipRequest => m instanceof SipRequest && m.method === 'ACK');
    assert.equal(acks.length, 2);
    const ack = acks[0]!;
    assert.equal(ack.topVia?.branch, 'z9hG4bKtest1');
    assert.equal(ack.to.params.get('tag'), 'callee');
    assert.deepEqual(ack.cseq, { seq: 314159, method: 'ACK' });
    assert.equal(ack.callId, invite.callId);
    assert.deepEqual(log, ['prov 180', 'final 486']);
    clock.advance(32_000);
    assert.equal(tx.state, 'terminated');
  });

  it('leaves the ACK for 2xx to the TU and absorbs retransmitted 2xx', () => {
    const clock = new ManualClock();
    const rec = recorder(clock);
    const { ev, log } = events();
    const invite = request('INVITE');
    const tx = new ClientInviteTransaction(invite, { send: rec.send, reliable: false, clock, timers: DEFAULT_TIMERS }, ev);
    tx.start();
    const ok = createResponse(invite, 200, undefined, { toTag: 'x' });
    tx.receiveResponse(ok);
    tx.receiveResponse(ok);
    assert.equal(tx.state, 'accepted');
    assert.equal(rec.sent.length, 1);
    assert.deepEqual(log, ['final 200']);
  });
});

describe('server transactions', () => {
  const deps = (clock: ManualClock, send: (r: SipResponse) => Promise<void>, reliable = false) => ({ sendResponse: send, reliable, clock, timers: DEFAULT_TIMERS });

  it('non-INVITE: absorbs retransmissions, replays the last response, lingers 64*T1 (Timer J)', () => {
    const clock = new ManualClock();
    const rec = recorder(clock);
    let terminated = false;
    const req = request('OPTIONS');
    const tx = new ServerNonInviteTransaction(req, deps(clock, rec.send), { onTerminated: () => (terminated = true) });
    tx.receiveRetransmission();
    assert.equal(rec.sent.length, 0, 'nothing to replay while Trying');
    assert.equal(tx.respond(createResponse(req, 200)), true);
    tx.receiveRetransmission();
    assert.equal(rec.sent.length, 2);
    assert.equal(tx.respond(createResponse(req, 500)), false, 'a second final is refused');
    clock.advance(32_000);
    assert.equal(terminated, true);
  });

  it('non-INVITE over TCP ends right after the final response', () => {
    const clock = new ManualClock();
    const rec = recorder(clock);
    const req = request('OPTIONS');
    const tx = new ServerNonInviteTransaction(req, deps(clock, rec.send, true));
    tx.respond(createResponse(req, 200));
    assert.equal(tx.state, 'terminated');
  });

  it('non-INVITE: a TU that never answers does not leak the transaction', () => {
    const clock = new ManualClock();
    const tx = new ServerNonInviteTransaction(request('OPTIONS'), deps(clock, async () => {}));
    clock.advance(32_000);
    assert.equal(tx.state, 'terminated');
  });

  it('INVITE: retransmits a non-2xx final with Timer G until the ACK', () => {
    const clock = new ManualClock();
    const rec = recorder(clock);
    const invite = request('INVITE');
    const tx = new ServerInviteTransaction(invite, deps(clock, rec.send));
    tx.respond(createResponse(invite, 180));
    tx.receiveRetransmission();
    assert.deepEqual(rec.sent.map((s) => (s.msg as SipResponse).status), [180, 180]);
    tx.respond(createResponse(invite, 486));
    clock.advance(8_000);
    assert.deepEqual(rec.times().slice(2), [0, 500, 1500, 3500, 7500]);
    tx.receiveAck();
    assert.equal(tx.state, 'confirmed');
    clock.advance(4_000);
    assert.equal(rec.sent.length, 7, 'no more retransmissions after ACK');
    clock.advance(1_000);
    assert.equal(tx.state, 'terminated', 'Timer I = T4');
  });

  it('INVITE: Timer H gives up waiting for the ACK', () => {
    const clock = new ManualClock();
    let ackTimeout = false;
    const invite = request('INVITE');
    const tx = new ServerInviteTransaction(invite, deps(clock, async () => {}), { onAckTimeout: () => (ackTimeout = true) });
    tx.respond(createResponse(invite, 603));
    clock.advance(32_000);
    assert.equal(tx.state, 'terminated');
    assert.equal(ackTimeout, true);
  });

  it('INVITE: retransmits a 2xx until its ACK arrives (RFC 6026 Accepted)', () => {
    const clock = new ManualClock();
    const rec = recorder(clock);
    const invite = request('INVITE');
    const tx = new ServerInviteTransaction(invite, deps(clock, rec.send));
    tx.respond(createResponse(invite, 200));
    clock.advance(2_000);
    assert.equal(rec.sent.length, 3);
    tx.receiveRetransmission();
    assert.equal(rec.sent.length, 3, 'retransmitted INVITE absorbed in Accepted');
    tx.receiveAck();
    clock.advance(10_000);
    assert.equal(rec.sent.length, 3);
  });
});

describe('TransactionLayer matching', () => {
  const src: MessageSource = { transport: 'udp', remoteAddress: '192.0.2.1', remotePort: 5060, localPort: 5060 };

  function layer() {
    const clock = new ManualClock();
    const responses: SipResponse[] = [];
    const seen: Array<{ method: string; tx: boolean }> = [];
    const l = new TransactionLayer({ sendResponse: async (r) => void responses.push(r), clock });
    l.onRequest = (req, _src, tx) => seen.push({ method: req.method, tx: tx !== undefined });
    return { l, clock, responses, seen };
  }

  it('hands each new request to the TU once and absorbs retransmissions', () => {
    const { l, seen } = layer();
    l.handleRequest(request('OPTIONS'), src);
    l.handleRequest(request('OPTIONS'), src);
    assert.deepEqual(seen, [{ method: 'OPTIONS', tx: true }]);
    assert.equal(l.counters.retransmissionsAbsorbed, 1);
    l.handleRequest(request('OPTIONS', 'z9hG4bKother'), src);
    assert.equal(seen.length, 2, 'a different branch is a different transaction');
  });

  it('sends 100 Trying for INVITE before the TU answers', () => {
    const { l, responses } = layer();
    l.handleRequest(request('INVITE'), src);
    assert.deepEqual(responses.map((r) => r.status), [100]);
  });

  it('CANCEL gets 200 and terminates its INVITE with 487', () => {
    const { l, responses, seen } = layer();
    let cancelled: ServerInviteTransaction | undefined;
    l.onCancel = (tx) => (cancelled = tx);
    l.handleRequest(request('INVITE'), src);
    l.handleRequest(request('CANCEL'), src);
    assert.deepEqual(responses.map((r) => `${r.status} ${r.cseq.method}`), ['100 INVITE', '200 CANCEL', '487 INVITE']);
    assert.equal(cancelled?.cancelled, true);
    assert.deepEqual(seen.map((s) => s.method), ['INVITE'], 'CANCEL is handled by the layer');
    const toTag200 = responses[1]!.to.params.get('tag');
    assert.equal(responses[2]!.to.params.get('tag'), toTag200);
  });

  it('CANCEL for an unknown INVITE gets 481', () => {
    const { l, responses } = layer();
    l.handleRequest(request('CANCEL', 'z9hG4bKnothing'), src);
    assert.deepEqual(responses.map((r) => r.status), [481]);
  });

  it('ACK for a non-2xx is absorbed by the INVITE transaction; ACK for 2xx reaches the TU', () => {
    const { l, seen, clock } = layer();
    l.onRequest = (req, _s, tx) => {
      seen.push({ method: req.method, tx: tx !== undefined });
      if (tx && req.method === 'INVITE') tx.respond(createResponse(req, req.callId === 'a84b4c76e66710' ? 404 : 200, undefined, { toTag: tx.localTag }));
    };
    l.handleRequest(request('INVITE'), src);
    l.handleRequest(request('ACK', 'z9hG4bKtest1', ';tag=x'), src);
    assert.deepEqual(seen.map((s) => s.method), ['INVITE']);
    const inv2 = request('INVITE', 'z9hG4bKsecond');
    inv2.headers.set('Call-ID', 'second');
    l.handleRequest(inv2, src);
    const ack2 = request('ACK', 'z9hG4bKnewbranch', ';tag=y');
    ack2.headers.set('Call-ID', 'second');
    l.handleRequest(ack2, src);
    assert.deepEqual(seen, [
      { method: 'INVITE', tx: true },
      { method: 'INVITE', tx: true },
      { method: 'ACK', tx: false },
    ]);
    clock.advance(40_000);
    assert.deepEqual(l.activeTransactions, { client: 0, server: 0 });
  });

  it('matches responses by branch and CSeq method; strays are counted', () => {
    const { l } = layer();
    const req = request('REGISTER', 'z9hG4bKclient');
    const got: number[] = [];
    l.sendRequest(req, async () => {}, false, { onFinal: (r) => got.push(r.status), onTimeout: () => {}, onTransportError: () => {} });
    const stray = createResponse(request('REGISTER', 'z9hG4bKelse'), 200);
    assert.equal(l.handleResponse(stray), false);
    const wrongMethod = createResponse(req, 200);
    wrongMethod.headers.set('CSeq', '314159 OPTIONS');
    assert.equal(l.handleResponse(wrongMethod), false);
    assert.equal(l.handleResponse(createResponse(req, 200)), true);
    assert.deepEqual(got, [200]);
    assert.equal(l.counters.strayResponses, 2);
  });

  it('shutdown fails pending client transactions with a transport error', () => {
    const { l } = layer();
    const errors: string[] = [];
    l.sendRequest(request('OPTIONS', 'z9hG4bKpending'), async () => {}, false, {
      onFinal: () => {},
      onTimeout: () => {},
      onTransportError: (e) => errors.push(e.message),
    });
    l.shutdown();
    assert.deepEqual(errors, ['SIP stack stopped']);
    assert.deepEqual(l.activeTransactions, { client: 0, server: 0 });
  });
});
