/** CANCEL of an INVITE: after a provisional only, 200 + 487 at the UAS, and the CANCEL/200 race. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { IncomingInvite } from '../../../src/sip/dialog/index.js';
import type { SipRequest } from '../../../src/sip/message.js';
import { parseMessage } from '../../../src/sip/parser.js';
import { rawResponse, sleep, waitFor } from '../helpers.js';
import { layer, pair, peer, rawInvite } from './helpers.js';

const parse = (text: string) => parseMessage(Buffer.from(text));

describe('CANCEL', () => {
  it('cancels a ringing call between two layers: the callee hears of it, the caller gets 487', async () => {
    const { a, b, uriOfB } = await pair();
    let incoming: IncomingInvite | undefined;
    const cancelled = new Promise<void>((resolve) =>
      b.layer.onInvite((inv) => {
        incoming = inv;
        inv.on('cancel', () => resolve());
        inv.progress(180);
      }),
    );
    const call = a.layer.invite({ uri: uriOfB, from: '<sip:alice@127.0.0.1>', to: '<sip:bob@127.0.0.1>', onProvisional: (r) => r.status === 180 && call.cancel() });
    const outcome = await call.outcome;
    await cancelled;
    assert.equal(outcome.response.status, 487);
    assert.equal(outcome.dialog, undefined);
    assert.ok(outcome.dialog === undefined && outcome.cancelled);
    assert.equal(incoming!.cancelled, true);
    assert.throws(() => incoming!.accept(), /already answered/);
    assert.equal(a.layer.size + b.layer.size, 0);
  });

  it('answers a CANCEL with 200 and the INVITE with 487', async () => {
    const b = await layer();
    const p = await peer();
    b.layer.onInvite((inv) => inv.progress(180));
    p.send(rawInvite(p.port, b.port, { callId: 'to-cancel', branch: 'z9hG4bKc1' }), b.port);
    await waitFor(() => p.received.some((m) => m.text.startsWith('SIP/2.0 180')), 2000, '180');
    p.send(
      `CANCEL sip:bob@127.0.0.1:${b.port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${p.port};branch=z9hG4bKc1;rport\r\nMax-Forwards: 70\r\n` +
        `To: <sip:bob@127.0.0.1>\r\nFrom: <sip:alice@127.0.0.1>;tag=rawtag\r\nCall-ID: to-cancel\r\nCSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n`,
      b.port,
    );
    await waitFor(() => p.received.some((m) => m.text.startsWith('SIP/2.0 487')), 2000, '487');
    const ok = p.received.map((m) => parse(m.text)).find((m) => 'status' in m && m.status === 200);
    assert.ok(ok);
    assert.equal(ok.cseq.method, 'CANCEL');
    const r487 = parse(p.received.find((m) => m.text.startsWith('SIP/2.0 487'))!.text);
    assert.equal(r487.cseq.method, 'INVITE');
  });

  it('holds the CANCEL back until a provisional response arrives', async () => {
    const a = await layer();
    const p = await peer();
    let invite: string | undefined;
    p.onMessage = (text) => {
      if (text.startsWith('INVITE ')) invite ??= text;
      if (text.startsWith('CANCEL ')) {
        p.send(rawResponse(text, '200 OK'), a.port);
        p.send(rawResponse(invite!, '487 Request Terminated'), a.port);
      }
      if (text.startsWith('ACK ')) return;
    };
    const call = a.layer.invite({ uri: `sip:bob@127.0.0.1:${p.port}`, from: '<sip:alice@127.0.0.1>', to: '<sip:bob@127.0.0.1>' });
    await waitFor(() => invite !== undefined, 2000, 'INVITE');
    call.cancel();
    await sleep(120); // INVITE retransmissions go on; no CANCEL yet
    assert.ok(!p.received.some((m) => m.text.startsWith('CANCEL ')));
    p.send(rawResponse(invite!, '180 Ringing'), a.port);
    const outcome = await call.outcome;
    assert.equal(outcome.response.status, 487);
    const cancel = parse(p.received.find((m) => m.text.startsWith('CANCEL '))!.text) as SipRequest;
    const inv = parse(invite!) as SipRequest;
    assert.equal(cancel.topVia?.branch, inv.topVia?.branch, 'CANCEL shares the INVITE branch');
    assert.equal(cancel.cseq.seq, inv.cseq.seq);
    assert.equal(cancel.headers.get('Call-ID'), inv.headers.get('Call-ID'));
    assert.equal(cancel.headers.get('To'), inv.headers.get('To'));
    // The 487 is ACKed by the INVITE transaction itself.
    await waitFor(() => p.received.some((m) => m.text.startsWith('ACK ')), 2000, 'ACK for 487');
  });

  it('ACKs and then BYEs a 200 that crossed our CANCEL', async () => {
    const a = await layer();
    const p = await peer();
    let invite: string | undefined;
    p.onMessage = (text) => {
      if (text.startsWith('INVITE ') && !invite) {
        invite = text;
        p.send(rawResponse(text, '180 Ringing'), a.port);
      }
      if (text.startsWith('CANCEL ')) {
        // Too late: we had already answered.
        p.send(rawResponse(invite!, '200 OK', [`Contact: <sip:bob@127.0.0.1:${p.port}>`]), a.port);
        p.send(rawResponse(text, '200 OK'), a.port);
      }
      if (text.startsWith('BYE ')) p.send(rawResponse(text, '200 OK'), a.port);
    };
    const call = a.layer.invite({ uri: `sip:bob@127.0.0.1:${p.port}`, from: '<sip:alice@127.0.0.1>', to: '<sip:bob@127.0.0.1>', onProvisional: () => call.cancel() });
    const outcome = await call.outcome;
    assert.equal(outcome.response.status, 200);
    assert.ok(outcome.dialog === undefined && outcome.cancelled);
    await waitFor(() => p.received.some((m) => m.text.startsWith('BYE ')), 2000, 'BYE');
    const order = p.received.map((m) => m.text.split(' ')[0]).filter((w) => w === 'ACK' || w === 'BYE');
    assert.deepEqual(order, ['ACK', 'BYE']);
    const bye = parse(p.received.find((m) => m.text.startsWith('BYE '))!.text) as SipRequest;
    assert.equal(bye.to.params.get('tag'), 'peer');
    assert.equal(bye.cseq.seq, 2);
    assert.equal(a.layer.size, 0);
  });
});
