/** RFC 4028 session timers: negotiation, 422 + Min-SE, refresh at half the interval, BYE on expiry. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Dialog } from '../../../src/sip/dialog/index.js';
import { parseSessionExpires } from '../../../src/sip/dialog/session-timer.js';
import type { SipRequest } from '../../../src/sip/message.js';
import { parseMessage } from '../../../src/sip/parser.js';
import { ManualClock, rawResponse, sleep, waitFor } from '../helpers.js';
import { call, layer, peer, rawInvite, SDP_ANSWER, SDP_OFFER } from './helpers.js';

/** Advances a shared fake clock in steps, letting loopback traffic flow between them. */
async function advance(clock: ManualClock, ms: number, step = 1000): Promise<void> {
  for (let done = 0; done < ms; done += step) {
    clock.advance(Math.min(step, ms - done));
    await sleep(2);
  }
}

function refreshes(d: Dialog): string[] {
  const seen: string[] = [];
  d.on('refreshed', (r) => seen.push(`${r.by} ${r.method}`));
  return seen;
}

describe('session timers', () => {
  it('agrees on the interval with the caller as refresher and refreshes at half of it', async () => {
    const clock = new ManualClock();
    const { uac, uas, response } = await call({ clock }, { sessionTimer: { expires: 1800 } }, { offer: SDP_OFFER, answer: SDP_ANSWER });
    assert.deepEqual(parseSessionExpires(response.headers.get('Session-Expires')), { interval: 1800, refresher: 'uac' });
    assert.equal(response.headers.get('Require'), 'timer');
    assert.equal(uac.sessionTimer.interval, 1800);
    assert.equal(uac.sessionTimer.weRefresh, true);
    assert.equal(uas.sessionTimer.weRefresh, false);
    const atUas = refreshes(uas);
    await advance(clock, 899_000);
    assert.deepEqual(atUas, []);
    await advance(clock, 1000);
    await waitFor(() => atUas.length === 1, 2000, 'first refresh');
    assert.deepEqual(atUas, ['remote INVITE']);
    assert.equal(uas.remoteBody?.toString(), SDP_OFFER, 're-INVITE refresh repeats our offer');
    // The timers restart from the refresh: the next one is another half interval later.
    // (the 2xx may land a step after the re-INVITE left, as the fake clock moves on meanwhile)
    await advance(clock, 905_000);
    await waitFor(() => atUas.length === 2, 2000, 'second refresh');
    assert.equal(uac.isTerminated, false);
    assert.equal(uas.isTerminated, false);
  });

  it('refreshes with UPDATE when told to, and lets the callee be the refresher when the caller asks for no timer', async () => {
    const clock = new ManualClock();
    const a = await layer({ clock });
    const b = await layer({ clock }, { sessionTimer: { expires: 300, refreshWith: 'UPDATE' } });
    const acked = new Promise<Dialog>((resolve) => b.layer.onInvite((inv) => {
      const d = inv.accept();
      d.on('ack', () => resolve(d));
    }));
    const { dialog: uac, response } = await a.layer.invite({ uri: `sip:bob@127.0.0.1:${b.port}`, from: '<sip:a@127.0.0.1>', to: '<sip:b@127.0.0.1>', sessionTimer: null }).outcome;
    assert.ok(uac);
    const uas = await acked;
    assert.equal(response.headers.get('Session-Expires'), '300;refresher=uas');
    assert.equal(uas.sessionTimer.weRefresh, true);
    assert.equal(uac.sessionTimer.weRefresh, false);
    const atUac = refreshes(uac);
    await advance(clock, 150_000);
    await waitFor(() => atUac.length === 1, 2000, 'refresh');
    assert.deepEqual(atUac, ['remote UPDATE']);
  });

  it('answers 422 with its Min-SE to a too-small interval, and the caller retries with that Min-SE', async () => {
    const clock = new ManualClock();
    const a = await layer({ clock }, { sessionTimer: { expires: 100 } });
    const b = await layer({ clock }, { sessionTimer: { expires: 1800, minSE: 600 } });
    const invites: SipRequest[] = [];
    b.layer.onInvite((inv) => {
      invites.push(inv.request);
      inv.accept();
    });
    const { dialog, response } = await a.layer.invite({ uri: `sip:bob@127.0.0.1:${b.port}`, from: '<sip:a@127.0.0.1>', to: '<sip:b@127.0.0.1>' }).outcome;
    assert.ok(dialog);
    assert.equal(response.cseq.seq, 2, 'the retry is a new request with a higher CSeq');
    assert.equal(invites.length, 1, 'the 422 never reached the application');
    assert.equal(invites[0]!.headers.get('Session-Expires'), '600');
    assert.equal(invites[0]!.headers.get('Min-SE'), '600');
    assert.equal(dialog.sessionTimer.interval, 600);
    assert.equal(dialog.localSeq, 2);

    // In the dialog too: a refresh asking for less than 600 s is turned down.
    const small = await dialog.reinvite({ headers: { 'Session-Expires': '120', 'Min-SE': '90' } });
    assert.equal(small.status, 422);
    assert.equal(small.headers.get('Min-SE'), '600');
  });

  it('sends BYE when the refresher lets the session expire', async () => {
    const clock = new ManualClock();
    const b = await layer({ clock, timers: { T1: 500 } });
    const p = await peer();
    let dialog: Dialog | undefined;
    b.layer.onInvite((inv) => (dialog = inv.accept()));
    p.onMessage = (text) => {
      if (text.startsWith('SIP/2.0 200') && text.includes('CSeq: 1 INVITE')) {
        const ok = parseMessage(Buffer.from(text));
        p.send(
          `ACK sip:dialtone@127.0.0.1:${b.port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${p.port};branch=z9hG4bKstack\r\nMax-Forwards: 70\r\n` +
            `To: ${ok.headers.get('To')}\r\nFrom: <sip:alice@127.0.0.1>;tag=rawtag\r\nCall-ID: expiring\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n`,
          b.port,
        );
      }
      if (text.startsWith('BYE ')) p.send(rawResponse(text, '200 OK'), b.port);
    };
    p.send(rawInvite(p.port, b.port, { callId: 'expiring', branch: 'z9hG4bKst1', extra: 'Supported: timer\r\nSession-Expires: 120;refresher=uac\r\n' }), b.port);
    await waitFor(() => p.received.some((m) => m.text.startsWith('SIP/2.0 200')), 2000, '200');
    const ok = parseMessage(Buffer.from(p.received.find((m) => m.text.startsWith('SIP/2.0 200'))!.text));
    assert.equal(ok.headers.get('Session-Expires'), '120;refresher=uac');
    // §10: the BYE goes min(32 s, interval/3) before the end, i.e. at 88 s.
    await advance(clock, 87_000);
    assert.ok(!p.received.some((m) => m.text.startsWith('BYE ')));
    assert.equal(dialog!.isTerminated, false, 'the ACK arrived, so no ACK timeout either');
    await advance(clock, 1000);
    await waitFor(() => p.received.some((m) => m.text.startsWith('BYE ')), 2000, 'BYE');
    assert.equal(dialog!.endReason, 'session-expired');
  });
});
