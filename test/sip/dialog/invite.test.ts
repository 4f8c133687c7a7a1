/** INVITE dialogs between two stacks on loopback UDP: identifiers, route sets, ACK, BYE, 481, 2xx retransmission. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Dialog, DialogLayer, type IncomingInvite } from '../../../src/sip/dialog/index.js';
import { parseMessage } from '../../../src/sip/parser.js';
import type { SipRequest } from '../../../src/sip/message.js';
import { ManualClock, rawResponse, sleep, waitFor } from '../helpers.js';
import { layer, pair, peer, rawInvite, SDP_ANSWER, SDP_OFFER, stack } from './helpers.js';

/** Accepts the next INVITE on `l` with an answer and hands back the UAS dialog. */
function answering(l: DialogLayer, body = SDP_ANSWER): Promise<{ invite: IncomingInvite; dialog: Dialog }> {
  return new Promise((resolve) => {
    l.onInvite((invite) => {
      invite.progress(180);
      resolve({ invite, dialog: invite.accept({ body }) });
    });
  });
}

function event<T>(d: Dialog, name: 'ack' | 'bye'): Promise<T> {
  return new Promise((resolve) => d.on(name, (x) => resolve(x as T)));
}

describe('INVITE dialogs', () => {
  it('makes matching UAC and UAS dialogs and passes the bodies through', async () => {
    const { a, b, uriOfB } = await pair();
    const answered = answering(b.layer);
    const provisional: number[] = [];
    const call = a.layer.invite({ uri: uriOfB, from: '<sip:alice@127.0.0.1>', to: '<sip:bob@127.0.0.1>', body: SDP_OFFER, onProvisional: (r) => provisional.push(r.status) });
    const outcome = await call.outcome;
    assert.equal(outcome.response.status, 200);
    assert.ok(outcome.dialog);
    const uac = outcome.dialog;
    const { dialog: uas } = await answered;
    const ack = await event<SipRequest>(uas, 'ack');

    assert.deepEqual(provisional.filter((s) => s === 180), [180]);
    assert.equal(uac.role, 'uac');
    assert.equal(uas.role, 'uas');
    assert.equal(uac.callId, call.callId);
    assert.equal(uas.callId, call.callId);
    assert.equal(uac.localTag, uas.remoteTag);
    assert.equal(uac.remoteTag, uas.localTag);
    assert.ok(uac.localTag && uas.localTag);
    assert.equal(uac.localSeq, 1);
    assert.equal(uas.remoteSeq, 1);
    assert.equal(uac.remoteTarget.port, b.port);
    assert.equal(uas.remoteTarget.port, a.port);
    assert.equal(uac.remoteBody?.toString(), SDP_ANSWER);
    assert.equal(uas.remoteBody?.toString(), SDP_OFFER);
    // The ACK for the 2xx is a new transaction: its own branch, the INVITE's CSeq number.
    assert.equal(ack.cseq.seq, 1);
    assert.equal(ack.cseq.method, 'ACK');
    assert.equal(ack.to.params.get('tag'), uas.localTag);
    assert.equal(a.layer.size, 1);
    assert.equal(b.layer.size, 1);
  });

  it('routes in-dialog requests through the route set: as received at the UAS, reversed at the UAC', async () => {
    const { a, b, uriOfB } = await pair();
    // Two "proxies" that are really the endpoints, so in-dialog requests still arrive: the one nearest
    // the callee (top Record-Route) points at the caller, the one nearest the caller at the callee.
    const nearCallee = `<sip:127.0.0.1:${a.port};lr;n=near-callee>`;
    const nearCaller = `<sip:127.0.0.1:${b.port};lr;n=near-caller>`;
    const answered = answering(b.layer);
    const { dialog: uac } = await a.layer.invite({
      uri: uriOfB,
      from: '<sip:alice@127.0.0.1>',
      to: '<sip:bob@127.0.0.1>',
      headers: { 'Record-Route': [nearCallee, nearCaller] },
    }).outcome;
    assert.ok(uac);
    const { dialog: uas } = await answered;
    assert.deepEqual(uas.routeSet.map((r) => r.uri.params.get('n')), ['near-callee', 'near-caller']);
    assert.deepEqual(uac.routeSet.map((r) => r.uri.params.get('n')), ['near-caller', 'near-callee']);

    // Loose routing: Request-URI = remote target, Route = the route set, sent to the first route.
    const info = new Promise<SipRequest>((resolve) => uas.on('request', (inc) => {
      resolve(inc.request);
      inc.respond(200);
    }));
    const res = await uac.request('INFO', { body: 'x', contentType: 'text/plain' });
    assert.equal(res.status, 200);
    const got = await info;
    assert.equal(got.uri.port, b.port);
    assert.equal(got.uri.user, 'dialtone');
    assert.deepEqual(got.headers.getAll('Route').flatMap((v) => v.split(',')).map((v) => /n=([\w-]+)/.exec(v)![1]), ['near-caller', 'near-callee']);
    assert.equal(got.cseq.seq, 2);

    const bye = event<SipRequest>(uac, 'bye');
    await uas.bye();
    const byeReq = await bye;
    assert.deepEqual(byeReq.headers.getAll('Route').flatMap((v) => v.split(',')).map((v) => /n=([\w-]+)/.exec(v)![1]), ['near-callee', 'near-caller']);
    assert.equal(byeReq.cseq.seq, 1, 'the UAS starts its own CSeq space');
  });

  it('ends the dialog with BYE from either side, answered 200', async () => {
    for (const side of ['caller', 'callee'] as const) {
      const { a, b, uriOfB } = await pair();
      const answered = answering(b.layer);
      const { dialog: uac } = await a.layer.invite({ uri: uriOfB, from: '<sip:alice@127.0.0.1>', to: '<sip:bob@127.0.0.1>' }).outcome;
      assert.ok(uac);
      const { dialog: uas } = await answered;
      await event(uas, 'ack');
      const [ender, other] = side === 'caller' ? [uac, uas] : [uas, uac];
      const remoteBye = event<SipRequest>(other, 'bye');
      const res = await ender.bye();
      assert.equal(res?.status, 200);
      await remoteBye;
      assert.equal(ender.endReason, 'local-bye');
      assert.equal(other.endReason, 'remote-bye');
      assert.equal(a.layer.size, 0);
      assert.equal(b.layer.size, 0);
    }
  });

  it('answers 481 to a request with a To tag that matches no dialog, and 480 to an INVITE nobody takes', async () => {
    const { a, b, uriOfB } = await pair();
    const { response } = await a.stack.request({
      method: 'BYE',
      uri: uriOfB,
      headers: { From: '<sip:alice@127.0.0.1>;tag=x1', To: '<sip:bob@127.0.0.1>;tag=nope', 'Call-ID': 'no-such-call', CSeq: '5 BYE' },
    });
    assert.equal(response.status, 481);
    const out = await a.layer.invite({ uri: uriOfB, from: '<sip:alice@127.0.0.1>', to: '<sip:bob@127.0.0.1>' }).outcome;
    assert.equal(out.response.status, 480);
    assert.equal(out.dialog, undefined);
    assert.equal(b.layer.size, 0);
  });

  it('retransmits the 2xx (T1 doubling to T2) until the ACK, then stops', async () => {
    const clock = new ManualClock();
    const b = await layer({ clock, timers: { T1: 500, T2: 4000 } });
    const p = await peer();
    let dialog: Dialog | undefined;
    b.layer.onInvite((inv) => (dialog = inv.accept()));
    p.send(rawInvite(p.port, b.port), b.port);
    await waitFor(() => p.received.some((m) => m.text.startsWith('SIP/2.0 200')), 2000, '200');
    const oks = () => p.received.filter((m) => m.text.startsWith('SIP/2.0 200')).length;
    // Up to just before each expected retransmission nothing new arrives; at it, one more 200 does.
    for (const due of [500, 1500, 3500, 7500, 11500, 15500]) {
      const before = oks();
      clock.advance(due - 1 - clock.now());
      await sleep(10);
      assert.equal(oks(), before, `no retransmission before ${due} ms`);
      clock.advance(1);
      await waitFor(() => oks() === before + 1, 2000, `retransmission at ${due} ms`);
    }
    // ACK it (new branch, To tag of the 200): the retransmissions stop.
    const ok = parseMessage(Buffer.from(p.received.find((m) => m.text.startsWith('SIP/2.0 200'))!.text));
    const toTag = ok.to.params.get('tag');
    const acked = new Promise((resolve) => dialog!.on('ack', resolve));
    p.send(
      `ACK sip:dialtone@127.0.0.1:${b.port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${p.port};branch=z9hG4bKack1\r\nMax-Forwards: 70\r\n` +
        `To: <sip:bob@127.0.0.1>;tag=${toTag}\r\nFrom: <sip:alice@127.0.0.1>;tag=rawtag\r\nCall-ID: raw-invite\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n`,
      b.port,
    );
    await acked;
    const count = oks();
    clock.advance(20_000);
    await sleep(20);
    assert.equal(oks(), count);
    assert.ok(!p.received.some((m) => m.text.startsWith('BYE ')));
    assert.equal(dialog!.isTerminated, false);
  });

  it('gives up after 64·T1 without an ACK and sends BYE', async () => {
    const clock = new ManualClock();
    const b = await layer({ clock, timers: { T1: 500, T2: 4000 } });
    const p = await peer();
    let dialog: Dialog | undefined;
    b.layer.onInvite((inv) => (dialog = inv.accept()));
    p.onMessage = (text) => {
      if (text.startsWith('BYE ')) p.send(rawResponse(text, '200 OK'), b.port);
    };
    p.send(rawInvite(p.port, b.port, { callId: 'never-acked', branch: 'z9hG4bKraw2' }), b.port);
    await waitFor(() => dialog !== undefined, 2000, 'dialog');
    clock.advance(64 * 500 - 1);
    await sleep(10);
    assert.ok(!p.received.some((m) => m.text.startsWith('BYE ')));
    clock.advance(1);
    await waitFor(() => p.received.some((m) => m.text.startsWith('BYE ')), 2000, 'BYE');
    assert.equal(dialog!.endReason, 'ack-timeout');
    assert.equal(b.layer.size, 0);
    const bye = parseMessage(Buffer.from(p.received.find((m) => m.text.startsWith('BYE '))!.text)) as SipRequest;
    assert.equal(bye.uri.port, p.port, 'sent to the Contact of the INVITE');
    assert.equal(bye.to.params.get('tag'), 'rawtag');
  });

  it('repeats its ACK when the UAS repeats the 2xx', async () => {
    const clock = new ManualClock();
    const a = await layer({ clock });
    const p = await peer();
    let oks = 0;
    p.onMessage = (text) => {
      if (!text.startsWith('INVITE ')) return;
      const ok = rawResponse(text, '200 OK', [`Contact: <sip:bob@127.0.0.1:${p.port}>`]);
      // The same 200 three times, as a UAS would when its ACKs were lost.
      for (let i = 0; i < 3; i++) setTimeout(() => (oks++, p.send(ok, a.port)), i * 20);
    };
    const { dialog } = await a.layer.invite({ uri: `sip:bob@127.0.0.1:${p.port}`, from: '<sip:alice@127.0.0.1>', to: '<sip:bob@127.0.0.1>' }).outcome;
    assert.ok(dialog);
    await waitFor(() => p.received.filter((m) => m.text.startsWith('ACK ')).length === 3, 2000, 'three ACKs');
    assert.equal(oks, 3);
    const acks = p.received.filter((m) => m.text.startsWith('ACK ')).map((m) => parseMessage(Buffer.from(m.text)) as SipRequest);
    assert.equal(new Set(acks.map((x) => x.headers.get('CSeq'))).size, 1);
    assert.equal(acks[0]!.to.params.get('tag'), 'peer');
  });

  it('works over TCP as well: the Contacts say transport=tcp and in-dialog requests follow them', async () => {
    const { a, b } = await pair();
    const answered = answering(b.layer);
    const { dialog: uac } = await a.layer.invite({ uri: `sip:bob@127.0.0.1:${b.port};transport=tcp`, from: '<sip:alice@127.0.0.1>', to: '<sip:bob@127.0.0.1>' }).outcome;
    assert.ok(uac);
    const { dialog: uas } = await answered;
    await event(uas, 'ack');
    assert.equal(uac.remoteTarget.params.get('transport'), 'tcp');
    assert.equal(uas.remoteTarget.params.get('transport'), 'tcp');
    const bye = event<SipRequest>(uac, 'bye');
    assert.equal((await uas.bye())?.status, 200);
    assert.equal((await bye).topVia?.transport, 'TCP');
  });

  it('leaves a stack without a dialog layer answering as before', async () => {
    const s = await stack();
    const t = await stack();
    const { response } = await t.request({ method: 'OPTIONS', uri: `sip:127.0.0.1:${s.listening().udpPort}`, headers: {} });
    assert.equal(response.status, 200);
  });
});
