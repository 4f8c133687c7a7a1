import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createResponse, SipHeaders, SipRequest, SipResponse } from '../../src/sip/message.js';
import { parseMessage } from '../../src/sip/parser.js';
import { parseUri } from '../../src/sip/uri.js';

describe('SipHeaders', () => {
  it('keeps order, repeats and compact-name equivalence', () => {
    const h = new SipHeaders([
      ['Via', 'SIP/2.0/UDP a;branch=z9hG4bK1'],
      ['v', 'SIP/2.0/UDP b;branch=z9hG4bK2'],
      ['To', '<sip:x@y>'],
    ]);
    assert.equal(h.get('VIA'), 'SIP/2.0/UDP a;branch=z9hG4bK1');
    assert.deepEqual(h.getAll('via'), ['SIP/2.0/UDP a;branch=z9hG4bK1', 'SIP/2.0/UDP b;branch=z9hG4bK2']);
    assert.equal(h.get('t'), '<sip:x@y>');
    assert.deepEqual([...h].map(([n]) => n), ['Via', 'Via', 'To']);
  });

  it('set replaces in place, append/prepend/remove work', () => {
    const h = new SipHeaders({ From: 'a', Contact: ['<sip:1@x>', '<sip:2@x>'], To: 'b' });
    h.set('contact', '<sip:3@x>');
    assert.deepEqual([...h], [['From', 'a'], ['Contact', '<sip:3@x>'], ['To', 'b']]);
    h.append('m', '<sip:4@x>').prepend('Contact', '<sip:0@x>');
    assert.deepEqual(h.getAll('Contact'), ['<sip:0@x>', '<sip:3@x>', '<sip:4@x>']);
    h.remove('CONTACT');
    assert.equal(h.has('Contact'), false);
    assert.equal(h.size, 2);
  });
});

describe('serialize', () => {
  it('writes CRLF lines and a Content-Length that matches the body', () => {
    const req = new SipRequest('MESSAGE', parseUri('sip:bob@biloxi.com'), {
      Via: 'SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds',
      'Content-Length': '999',
      To: '<sip:bob@biloxi.com>',
    }, 'héllo');
    const wire = req.serialize().toString('utf8');
    assert.equal(wire, 'MESSAGE sip:bob@biloxi.com SIP/2.0\r\nVia: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds\r\nTo: <sip:bob@biloxi.com>\r\nContent-Length: 6\r\n\r\nhéllo');
  });

  it('round-trips through the parser', () => {
    const res = new SipResponse(180, undefined, {
      Via: 'SIP/2.0/UDP a;branch=z9hG4bK1',
      From: '<sip:a@x>;tag=1',
      To: '<sip:b@y>;tag=2',
      'Call-ID': 'c1',
      CSeq: '1 INVITE',
    });
    const back = parseMessage(res.serialize()) as SipResponse;
    assert.equal(back.status, 180);
    assert.equal(back.reason, 'Ringing');
    assert.equal(back.headers.get('Content-Length'), '0');
    assert.equal(back.cseq.method, 'INVITE');
  });
});

describe('createResponse', () => {
  const req = parseMessage(
    'INVITE sip:bob@biloxi.com SIP/2.0\r\n' +
      'Via: SIP/2.0/UDP p1;branch=z9hG4bKa, SIP/2.0/UDP p2;branch=z9hG4bKb\r\n' +
      'Via: SIP/2.0/UDP pc;branch=z9hG4bKc;received=1.2.3.4\r\n' +
      'Max-Forwards: 70\r\nTo: Bob <sip:bob@biloxi.com>\r\nFrom: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n' +
      'Call-ID: a84b4c76e66710\r\nCSeq: 314159 INVITE\r\nContact: <sip:alice@pc>\r\nContent-Length: 0\r\n\r\n',
  ) as SipRequest;

  it('copies Via, From, To, Call-ID and CSeq and adds a To tag', () => {
    const res = createResponse(req, 486, undefined, { toTag: 'xyz', headers: { 'Retry-After': '30' } });
    assert.equal(res.reason, 'Busy Here');
    assert.deepEqual(res.headers.getAll('Via'), req.headers.getAll('Via'));
    assert.equal(res.headers.get('From'), 'Alice <sip:alice@atlanta.com>;tag=1928301774');
    assert.equal(res.headers.get('To'), 'Bob <sip:bob@biloxi.com>;tag=xyz');
    assert.equal(res.headers.get('Call-ID'), 'a84b4c76e66710');
    assert.equal(res.headers.get('CSeq'), '314159 INVITE');
    assert.equal(res.headers.get('Retry-After'), '30');
    assert.equal(res.headers.has('Contact'), false);
    assert.equal(res.vias.length, 3);
  });

  it('adds no tag to 100 Trying and keeps an existing tag', () => {
    assert.equal(createResponse(req, 100).headers.get('To'), 'Bob <sip:bob@biloxi.com>');
    const tagged = new SipRequest(req.method, req.uri, req.headers.clone().set('To', '<sip:bob@biloxi.com>;tag=old'));
    assert.equal(createResponse(tagged, 200).headers.get('To'), '<sip:bob@biloxi.com>;tag=old');
  });
});
