import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SipParseError } from '../../src/sip/errors.js';
import { SipRequest, SipResponse, type SipMessage } from '../../src/sip/message.js';
import { parseMessage, StreamFramer, type FramerEvent } from '../../src/sip/parser.js';
import { INVALID, PLAIN_REGISTER, VALID, wire } from '../fixtures/sip/torture.js';

function fixture(id: string): Buffer {
  const f = VALID.find((m) => m.id === id);
  assert.ok(f, id);
  return f.raw;
}

function req(id: string): SipRequest {
  const m = parseMessage(fixture(id));
  assert.ok(m instanceof SipRequest, `${id} should be a request`);
  return m;
}

function res(id: string): SipResponse {
  const m = parseMessage(fixture(id));
  assert.ok(m instanceof SipResponse, `${id} should be a response`);
  return m;
}

describe('RFC 4475 §3.1.1 valid messages', () => {
  it('wsinv: whitespace, folding, compact forms and odd casing', () => {
    const m = req('wsinv');
    assert.equal(m.method, 'INVITE');
    assert.equal(m.uri.user, 'vivekg');
    assert.equal(m.uri.params.get('unknownparam'), null);
    assert.equal(m.to.params.get('tag'), '1918181833n');
    assert.equal(m.from.displayName, 'J Rosenberg \\"');
    assert.equal(m.from.params.get('tag'), '98asjd8');
    assert.equal(m.headers.get('Max-Forwards'), '0068');
    assert.equal(m.callId, 'wsinv.ndaksdj@192.0.2.1');
    assert.deepEqual(m.cseq, { seq: 9, method: 'INVITE' });
    const vias = m.vias;
    assert.deepEqual(vias.map((v) => [v.transport, v.host, v.branch]), [
      ['UDP', '192.0.2.2', '390skdjuw'],
      ['TCP', 'spindle.example.com', 'z9hG4bK9ikj8'],
      ['UDP', '192.168.255.111', 'z9hG4bK30239'],
    ]);
    assert.equal(m.headers.get('Subject'), '');
    assert.equal(m.headers.get('NewFangledHeader'), 'newfangled value continued newfangled value');
    assert.equal(m.headers.get('UnknownHeaderWithUnusualValue'), ';;,,;;,;');
    const contact = m.headers.get('Contact');
    assert.ok(contact);
    assert.equal(m.body.length, 150);
    assert.ok(m.body.toString().startsWith('v=0\r\n'));
  });

  it('intmeth: unusual but legal characters everywhere', () => {
    const m = req('intmeth');
    assert.equal(m.method, "!interesting-Method0123456789_*+`.%indeed'~");
    assert.equal(m.uri.user, "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
    assert.equal(m.uri.password, "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
    assert.equal(m.topVia?.branch, "z9hG4bK-.!%66*_+`'~");
    assert.equal(m.to.displayName, 'BEL:\x07 NUL:\x00 DEL:\x7f');
    assert.equal(m.from.params.get("fromparam''~+*_!.-%"), 'работающий');
    assert.equal(m.from.params.get('tag'), "_token~1'+`*%!-.");
    assert.equal(m.callId, 'intmeth.word%ZK-!.*_+\'@word`~)(><:\\/"][?}{');
    assert.equal(m.cseq.seq, 139122385);
    assert.equal(m.headers.get("extensionHeader-!.%*+_`'~"), '\uFEFF大停電');
  });

  it('esc01: escapes in URIs are decoded', () => {
    const m = req('esc01');
    assert.equal(m.uri.user, 'sips:user@example.com');
    assert.equal(m.to.uri.user, 'user');
    assert.equal(m.from.uri.user, 'I have spaces');
    assert.equal(m.callId, 'esc01.239409asdfakjkn23onasd0-3234');
    assert.equal(m.headers.get('Content-Type'), 'application/sdp');
  });

  it('escnull: escaped NUL in user parts', () => {
    const m = req('escnull');
    assert.equal(m.to.uri.user, 'null-\0-null');
    assert.deepEqual(m.headers.getAll('Contact'), ['<sip:%00@host5.example.com>', '<sip:%00%00@host5.example.com>']);
  });

  it('esc02: % in method and header name are not escapes', () => {
    const m = req('esc02');
    assert.equal(m.method, 'RE%47IST%45R');
    assert.equal(m.to.displayName, '%Z%45');
    assert.equal(m.headers.getAll('Contact').length, 2);
    assert.equal(m.headers.get('C%6Fntact'), '<sip:alias2@host2.example.com>');
  });

  it('lwsdisp: no LWS between display name and "<"', () => {
    assert.equal(req('lwsdisp').from.displayName, 'caller');
  });

  it('longreq: very long values and 34 Via headers', () => {
    const m = req('longreq');
    assert.equal(m.vias.length, 34);
    assert.equal(m.vias[0]!.host, 'sip33.example.com');
    assert.equal(m.vias[33]!.received, '192.0.2.5');
    assert.equal(m.to.uri.port, 6000);
    assert.ok(m.from.params.get('tag')!.endsWith('424'));
    assert.equal(m.body.length, 150);
  });

  it('dblreq: octets after Content-Length are ignored', () => {
    const m = req('dblreq');
    assert.equal(m.method, 'REGISTER');
    assert.equal(m.body.length, 0);
  });

  it('semiuri: ";" inside the Request-URI user part', () => {
    const m = req('semiuri');
    assert.equal(m.uri.user, 'user;par=u@example.net');
    assert.equal(m.uri.host, 'example.com');
    assert.equal(m.headers.get('Accept'), 'application/sdp, application/pkcs7-mime, multipart/mixed, multipart/signed, message/sip, message/sipfrag');
  });

  it('transports: unknown Via transports are kept', () => {
    assert.deepEqual(req('transports').vias.map((v) => v.transport), ['UDP', 'SCTP', 'TLS', 'UNKNOWN', 'TCP']);
  });

  it('mpart01: binary multipart body is framed by Content-Length only', () => {
    const m = req('mpart01');
    assert.equal(m.body.length, Number(m.headers.get('Content-Length')));
    assert.ok(m.body.includes(Buffer.from([0x00])));
    assert.ok(m.body.toString('latin1').endsWith('--7a9cbec02ceef655--\r\n'));
    assert.equal(m.topVia?.rport, null);
  });

  it('unreason: UTF-8 reason phrase', () => {
    const r = res('unreason');
    assert.equal(r.status, 200);
    assert.equal(r.reason, '= 2**3 * 5**2 но сто девяносто девять - простое');
  });

  it('noreason: empty reason phrase', () => {
    const r = res('noreason');
    assert.equal(r.status, 100);
    assert.equal(r.reason, '');
  });

  it('every valid fixture survives serialize → parse', () => {
    for (const f of VALID) {
      const first = parseMessage(f.raw);
      const again = parseMessage(first.serialize());
      assert.equal(again.startLine(), first.startLine(), f.id);
      assert.deepEqual([...again.headers].filter(([n]) => n !== 'Content-Length'), [...first.headers].filter(([n]) => n !== 'Content-Length'), f.id);
      assert.ok(again.body.equals(first.body), f.id);
    }
  });
});

describe('RFC 4475 §3.1.2 invalid messages', () => {
  for (const f of INVALID) {
    it(`${f.id} (§${f.section}) is rejected with SipParseError`, () => {
      assert.throws(() => parseMessage(f.raw), SipParseError);
    });
  }

  it('keeps the readable headers of a rejected request so a 400 can be built', () => {
    const raw = INVALID.find((f) => f.id === 'mismatch01')!.raw;
    try {
      parseMessage(raw);
      assert.fail('should throw');
    } catch (err) {
      assert.ok(err instanceof SipParseError);
      assert.equal(err.partial?.isRequest, true);
      assert.equal(err.partial?.method, 'OPTIONS');
      assert.ok(err.partial?.headers.some(([n]) => n === 'Call-ID'));
    }
  });
});

describe('parseMessage tolerance', () => {
  it('accepts leading CRLFs and bare-LF line endings', () => {
    const text = PLAIN_REGISTER.toString().replace(/\r\n/g, '\n');
    const m = parseMessage(`\r\n\r\n${text}`) as SipRequest;
    assert.equal(m.method, 'REGISTER');
    assert.equal(m.vias[0]!.rport, null);
  });

  it('treats a datagram body without Content-Length as running to the end', () => {
    const text = PLAIN_REGISTER.toString().replace('Content-Length: 0\r\n', '') + 'hello';
    assert.equal(parseMessage(text).body.toString(), 'hello');
  });

  for (const [name, text] of [
    ['empty input', ''],
    ['no blank line', 'OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n'],
    ['a continuation before any header', 'OPTIONS sip:a@b SIP/2.0\r\n folded: x\r\n\r\n'],
    ['a header without colon', PLAIN_REGISTER.toString().replace('Max-Forwards: 70', 'Max-Forwards 70')],
    ['Max-Forwards above 255', PLAIN_REGISTER.toString().replace('Max-Forwards: 70', 'Max-Forwards: 256')],
    ['conflicting Content-Length', PLAIN_REGISTER.toString().replace('Content-Length: 0', 'Content-Length: 0\r\nl: 4') + 'abcd'],
    ['missing Via', PLAIN_REGISTER.toString().replace(/Via:.*\r\n/, '')],
    ['garbage', '\x00\x01\x02\xff\xfe\r\n\r\n'],
    ['status line only', 'SIP/2.0 200 OK\r\n\r\n'],
  ] as const) {
    it(`rejects ${name}`, () => assert.throws(() => parseMessage(text), SipParseError));
  }
});

describe('StreamFramer', () => {
  const a = wire`OPTIONS sip:a@example.com SIP/2.0
Via: SIP/2.0/TCP h;branch=z9hG4bKa
To: <sip:a@example.com>
From: <sip:b@example.com>;tag=1
Call-ID: one
CSeq: 1 OPTIONS
Content-Length: 5

hello`;
  const b = Buffer.from(a.toString().replace('Call-ID: one', 'Call-ID: two'));

  function messages(events: FramerEvent[]): SipMessage[] {
    return events.flatMap((e) => (e.type === 'message' ? [e.message] : []));
  }

  it('reassembles a message delivered byte by byte', () => {
    const f = new StreamFramer();
    const out: FramerEvent[] = [];
    for (let i = 0; i < a.length; i++) out.push(...f.push(a.subarray(i, i + 1)));
    const msgs = messages(out);
    assert.equal(msgs.length, 1);
    assert.equal(msgs[0]!.body.toString(), 'hello');
    assert.equal(f.pending, 0);
  });

  it('splits two messages in one chunk and reports keep-alives between them', () => {
    const f = new StreamFramer();
    const events = f.push(Buffer.concat([Buffer.from('\r\n\r\n'), a, Buffer.from('\r\n'), b]));
    assert.deepEqual(events.map((e) => e.type), ['ping', 'message', 'pong', 'message']);
    assert.deepEqual(messages(events).map((m) => m.callId), ['one', 'two']);
  });

  it('reports a well-framed but malformed message without losing the stream', () => {
    const f = new StreamFramer();
    const bad = Buffer.from(a.toString().replace('CSeq: 1 OPTIONS', 'CSeq: 1 INVITE'));
    const events = f.push(Buffer.concat([bad, b]));
    assert.deepEqual(events.map((e) => e.type), ['malformed', 'message']);
    const first = events[0]!;
    assert.ok(first.type === 'malformed' && first.error instanceof SipParseError);
  });

  it('requires Content-Length on streams', () => {
    const f = new StreamFramer();
    assert.throws(() => f.push(Buffer.from(a.toString().replace('Content-Length: 5\r\n', ''))), /Content-Length is required/);
  });

  it('rejects negative or garbage Content-Length (RFC 4475 ncl) on streams', () => {
    assert.throws(() => new StreamFramer().push(Buffer.from(a.toString().replace('Content-Length: 5', 'Content-Length: -999'))), SipParseError);
    assert.throws(() => new StreamFramer().push(Buffer.from(a.toString().replace('Content-Length: 5', 'l: 5x'))), SipParseError);
  });

  it('waits for the body when Content-Length exceeds what arrived (RFC 4475 clerr)', () => {
    const f = new StreamFramer();
    const big = Buffer.from(a.toString().replace('Content-Length: 5', 'Content-Length: 9'));
    assert.deepEqual(f.push(big), []);
    assert.equal(messages(f.push(Buffer.from('1234'))).length, 1);
  });

  it('rejects oversized messages and endless header sections', () => {
    const f = new StreamFramer({ maxMessageSize: 1000 });
    assert.throws(() => f.push(Buffer.from(a.toString().replace('Content-Length: 5', 'Content-Length: 5000'))), /exceeds 1000/);
    const g = new StreamFramer({ maxMessageSize: 1000 });
    assert.throws(() => g.push(Buffer.from(`OPTIONS sip:a@b SIP/2.0\r\nX: ${'y'.repeat(2000)}`)), /exceeds 1000/);
  });
});
