/** re-INVITE and UPDATE inside a dialog: opaque offer/answer, 491 on glare, the §14.1 retry delays. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Dialog, IncomingDialogRequest } from '../../../src/sip/dialog/index.js';
import type { SipResponse } from '../../../src/sip/message.js';
import { ManualClock, sleep, waitFor } from '../helpers.js';
import { call, SDP_ANSWER, SDP_OFFER } from './helpers.js';

const HOLD = SDP_OFFER.replace('m=audio 4000 RTP/AVP 0\r\n', 'm=audio 4000 RTP/AVP 0\r\na=sendonly\r\n');
const HELD = SDP_ANSWER.replace('m=audio 5000 RTP/AVP 0\r\n', 'm=audio 5000 RTP/AVP 0\r\na=recvonly\r\n');

function next<T>(d: Dialog, name: 'offer' | 'refreshed' | 'ack'): Promise<T> {
  return new Promise((resolve) => {
    const fn = (x: unknown) => {
      d.off(name, fn);
      resolve(x as T);
    };
    d.on(name, fn);
  });
}

describe('re-INVITE and UPDATE', () => {
  it('puts the call on hold with a re-INVITE: the body goes through untouched and the ACK follows', async () => {
    const { uac, uas } = await call({}, {}, { offer: SDP_OFFER, answer: SDP_ANSWER });
    const offer = next<IncomingDialogRequest>(uas, 'offer');
    const refreshedAtUas = next<{ by: string; method: string }>(uas, 'refreshed');
    const acked = next(uas, 'ack');
    const pending = uac.reinvite({ body: HOLD });
    const inc = await offer;
    assert.equal(inc.method, 'INVITE');
    assert.equal(inc.request.body.toString(), HOLD);
    assert.equal(inc.request.cseq.seq, 2);
    inc.respond(200, undefined, { body: HELD });
    const res = await pending;
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), HELD);
    await acked;
    assert.deepEqual(await refreshedAtUas, { by: 'remote', method: 'INVITE' });
    assert.equal(uac.localBody?.body, HOLD);
    assert.equal(uac.remoteBody?.toString(), HELD);
    assert.equal(uas.remoteBody?.toString(), HOLD);
    assert.equal(uas.localBody?.body, HELD);
    assert.equal(uac.inviteInProgress, false);
    assert.equal(uas.inviteInProgress, false);
  });

  it('answers a re-INVITE nobody listens for with the current session, in either direction', async () => {
    const { uac, uas } = await call({}, {}, { offer: SDP_OFFER, answer: SDP_ANSWER });
    const res = await uas.reinvite({ body: SDP_ANSWER });
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), SDP_OFFER);
    assert.equal(uac.remoteSeq, 1);
  });

  it('puts the offer in the 2xx and the answer in the ACK when the re-INVITE has no body', async () => {
    const { uac, uas } = await call({}, {}, { offer: SDP_OFFER, answer: SDP_ANSWER });
    const acked = next<{ body: Buffer }>(uas, 'ack');
    const res = await uac.reinvite({}, { answer: (r: SipResponse) => ({ body: `answer to ${r.body.length} bytes` }) });
    assert.equal(res.body.toString(), SDP_ANSWER);
    assert.equal((await acked).body.toString(), `answer to ${SDP_ANSWER.length} bytes`);
    assert.equal(uas.remoteBody?.toString(), `answer to ${SDP_ANSWER.length} bytes`);
  });

  it('sends UPDATE with and without an offer', async () => {
    const { uac, uas } = await call({}, {}, { offer: SDP_OFFER, answer: SDP_ANSWER });
    const offer = next<IncomingDialogRequest>(uac, 'offer');
    const pending = uas.update({ body: HELD });
    const inc = await offer;
    assert.equal(inc.method, 'UPDATE');
    inc.respond(200, undefined, { body: HOLD });
    const res = await pending;
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), HOLD);
    assert.equal(uas.remoteBody?.toString(), HOLD);
    const bare = await uac.update();
    assert.equal(bare.status, 200);
    assert.equal(bare.body.length, 0);
  });

  it('refuses to start a second re-INVITE while one is in progress', async () => {
    const { uac, uas } = await call();
    let held: IncomingDialogRequest | undefined;
    uas.on('offer', (inc) => (held = inc)); // hold the answer back
    const first = uac.reinvite({ body: HOLD });
    await assert.rejects(uac.reinvite({ body: HOLD }), /already in progress/);
    await waitFor(() => held !== undefined, 2000, 'incoming re-INVITE');
    await assert.rejects(uas.reinvite({ body: HELD }), /already in progress/);
    held!.respond(200, undefined, { body: HELD });
    assert.equal((await first).status, 200);
  });

  it('answers 491 on glare and retries after the §14.1 delays: callee first (0–2 s), caller later (2.1–4 s)', async () => {
    const clock = new ManualClock();
    const { uac, uas } = await call({ clock }, { random: () => 0.5 });
    assert.equal(uac.glareDelay(), 2100 + 95 * 10);
    assert.equal(uas.glareDelay(), 1000);
    const statuses: string[] = [];
    const offers: string[] = [];
    for (const [who, d] of [['caller', uac], ['callee', uas]] as const) {
      d.on('offer', (inc) => {
        offers.push(who);
        inc.respond(200, undefined, { body: `${who} answer` });
      });
    }
    const a = uac.reinvite({ body: 'caller offer' }).then((r) => statuses.push(`caller ${r.status}`));
    const b = uas.reinvite({ body: 'callee offer' }).then((r) => statuses.push(`callee ${r.status}`));
    await waitFor(() => !uac.inviteInProgress && !uas.inviteInProgress, 2000, 'both 491s');
    assert.deepEqual(offers, []);
    // Step the fake clock up to each retry moment, then let the retry's traffic finish in real time.
    const to = async (t: number) => {
      while (clock.now() < t) {
        clock.advance(Math.min(50, t - clock.now()));
        await sleep(1);
      }
    };
    await to(999);
    assert.deepEqual(offers, []);
    await to(1000);
    await waitFor(() => statuses.length === 1, 2000, 'callee retry');
    assert.deepEqual([offers, statuses], [['caller'], ['callee 200']]);
    await to(3049);
    assert.equal(offers.length, 1);
    await to(3050);
    await Promise.all([a, b]);
    assert.deepEqual([offers, statuses], [['caller', 'callee'], ['callee 200', 'caller 200']]);
    assert.equal(uac.localBody?.body, 'caller offer');
    assert.equal(uac.remoteBody?.toString(), 'callee answer');
  });

  it('answers 491 to an UPDATE offer that crosses ours, and both retry', async () => {
    const clock = new ManualClock();
    const { uac, uas } = await call({ clock }, { random: () => 0 });
    for (const d of [uac, uas]) d.on('offer', (inc) => inc.respond(200, undefined, { body: 'answer' }));
    const statuses: string[] = [];
    const a = uac.update({ body: 'caller offer' }).then((r) => statuses.push(`caller ${r.status}`));
    const b = uas.update({ body: 'callee offer' }).then((r) => statuses.push(`callee ${r.status}`));
    await sleep(50);
    assert.deepEqual(statuses, []);
    // random() = 0: the callee retries at once, the caller after 2.1 s.
    clock.advance(0);
    await waitFor(() => statuses.length === 1, 2000, 'callee retry');
    for (let t = 0; t < 2100; t += 100) {
      clock.advance(100);
      await sleep(1);
    }
    await Promise.all([a, b]);
    assert.deepEqual(statuses, ['callee 200', 'caller 200']);
  });

  it('answers 500 to a request whose CSeq goes backwards', async () => {
    const { a, uac, uas } = await call();
    const o = uac.outgoing('INFO');
    o.headers.CSeq = '1 INFO';
    const { response } = await a.stack.request(o);
    assert.equal(response.status, 500);
    assert.equal(uas.isTerminated, false);
  });
});
