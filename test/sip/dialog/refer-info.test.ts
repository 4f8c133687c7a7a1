/** REFER with NOTIFY message/sipfrag progress (RFC 3515), and INFO application/dtmf-relay. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDtmfRelay, parseDtmfRelay, parseSipfrag, type DtmfDigit, type IncomingRefer, type ReferProgress } from '../../../src/sip/dialog/index.js';
import { call } from './helpers.js';

describe('REFER', () => {
  it('is answered 202 and reports progress in NOTIFYs until a final status', async () => {
    const { uac, uas } = await call();
    let got: IncomingRefer | undefined;
    uas.on('refer', (r) => {
      got = r;
      r.accept();
      setTimeout(() => r.progress(180, 'Ringing'), 10);
      setTimeout(() => r.progress(200, 'OK'), 20);
    });
    const referral = await uac.refer('sip:carol@127.0.0.1:5099', { headers: { 'Referred-By': '<sip:alice@127.0.0.1>' } });
    assert.equal(referral.response?.status, 202);
    const seen: ReferProgress[] = [];
    referral.on('progress', (p) => seen.push(p));
    const final = await referral.done();
    assert.deepEqual(final, { status: 200, reason: 'OK', final: true });
    assert.equal(got!.referTo.uri.user, 'carol');
    assert.equal(got!.referTo.uri.port, 5099);
    assert.equal(got!.request.headers.get('Referred-By'), '<sip:alice@127.0.0.1>');
    // The 100 Trying NOTIFY may have come before we listened; the later ones we saw in order.
    assert.deepEqual(seen.filter((p) => p.status !== 100).map((p) => `${p.status} ${p.final}`), ['180 false', '200 true']);
    assert.equal(uac.isTerminated, false);
  });

  it('is declined with 603 when nobody listens', async () => {
    const { uac } = await call();
    const referral = await uac.refer('<sip:carol@127.0.0.1>');
    assert.equal(referral.response?.status, 603);
  });

  it('reads and writes sipfrag status lines', () => {
    assert.deepEqual(parseSipfrag('SIP/2.0 486 Busy Here\r\n'), { status: 486, reason: 'Busy Here' });
    assert.equal(parseSipfrag('nonsense'), undefined);
  });
});

describe('INFO application/dtmf-relay', () => {
  it('sends digits that the peer parses and answers 200', async () => {
    const { uac, uas } = await call();
    const digits: DtmfDigit[] = [];
    uas.on('dtmf', (d) => digits.push(d));
    for (const s of ['5', '#', 'a']) assert.equal((await uac.sendDtmf(s, 160)).status, 200);
    assert.deepEqual(digits, [
      { signal: '5', duration: 160 },
      { signal: '#', duration: 160 },
      { signal: 'A', duration: 160 },
    ]);
    const bad = await uac.info({ body: 'Signal=X\r\n', contentType: 'application/dtmf-relay' });
    assert.equal(bad.status, 400);
    const other = await uas.info({ body: 'hello', contentType: 'text/plain' });
    assert.equal(other.status, 200);
  });

  it('parses loosely and formats strictly', () => {
    assert.deepEqual(parseDtmfRelay('signal= 7 \nDuration =100\nExtra=1'), { signal: '7', duration: 100 });
    assert.deepEqual(parseDtmfRelay('Signal=*'), { signal: '*', duration: 250 });
    assert.equal(parseDtmfRelay('Duration=100'), undefined);
    assert.equal(formatDtmfRelay({ signal: '1', duration: 200 }), 'Signal=1\r\nDuration=200\r\n');
    assert.throws(() => formatDtmfRelay({ signal: '12', duration: 200 }), RangeError);
  });
});
