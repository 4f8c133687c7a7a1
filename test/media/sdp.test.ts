import { test } from 'node:test';
import assert from 'node:assert/strict';
import { answerOffer, createOffer, readRemoteMedia } from '../../src/media/sdp.js';

const offer = (m: string, extra = '', c = 'c=IN IP4 192.0.2.10') =>
  ['v=0', 'o=peer 1 1 IN IP4 192.0.2.10', 's=-', c, 't=0 0', m, 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:8 PCMA/8000', 'a=rtpmap:101 telephone-event/8000', extra, ''].filter((l, i, a) => l || i === a.length - 1).join('\r\n');
const local = { address: '198.51.100.1', port: 40000 };

test('answers with our first codec the peer offers and its telephone-event type', () => {
  const n = answerOffer(offer('m=audio 5004 RTP/AVP 8 0 101'), local);
  assert.ok(n.ok);
  assert.deepEqual(n.codec, { law: 'PCMU', pt: 0 });
  assert.equal(n.telephoneEvent, 101);
  assert.deepEqual({ address: n.remote.address, port: n.remote.port }, { address: '192.0.2.10', port: 5004 });
  const back = readRemoteMedia(n.answer)!;
  assert.deepEqual(back.codecs, [{ law: 'PCMU', pt: 0 }]);
  assert.equal(back.telephoneEvent, 101);
  assert.equal(back.address, '198.51.100.1');
  assert.equal(back.port, 40000);
  const onlyA = answerOffer(offer('m=audio 5004 RTP/AVP 8'), { ...local, codecs: ['PCMA'] });
  assert.ok(onlyA.ok && onlyA.codec.law === 'PCMA');
  assert.equal(onlyA.telephoneEvent, null, 'an rtpmap for a payload the m= line does not list is not offered');
});

test('reads hold: sendonly is answered recvonly, 0.0.0.0 and inactive are hold too', () => {
  const held = answerOffer(offer('m=audio 5004 RTP/AVP 0', 'a=sendonly'), local);
  assert.ok(held.ok && held.remote.onHold);
  assert.equal(readRemoteMedia(held.answer)!.direction, 'recvonly');
  assert.ok(readRemoteMedia(offer('m=audio 5004 RTP/AVP 0', '', 'c=IN IP4 0.0.0.0'))!.onHold);
  assert.ok(readRemoteMedia(offer('m=audio 5004 RTP/AVP 0', 'a=inactive'))!.onHold);
  assert.equal(readRemoteMedia(offer('m=audio 5004 RTP/AVP 0'))!.onHold, false);
});

test('a clear 488 when no codec matches, 400 when there is no audio at all', () => {
  const opus = ['v=0', 'o=p 1 1 IN IP4 192.0.2.1', 's=-', 'c=IN IP4 192.0.2.1', 't=0 0', 'm=audio 5004 RTP/AVP 111', 'a=rtpmap:111 opus/48000/2', ''].join('\r\n');
  const n = answerOffer(opus, local);
  assert.ok(!n.ok && n.status === 488);
  assert.match(n.reason, /no common codec/);
  const video = opus.replace('m=audio', 'm=video');
  const v = answerOffer(video, local);
  assert.ok(!v.ok && v.status === 400);
  assert.ok(!answerOffer('not sdp at all', local).ok);
});

test('our offer lists both laws and telephone-event, and reads back as such', () => {
  const o = readRemoteMedia(createOffer(local))!;
  assert.deepEqual(o.codecs.map((c) => c.law), ['PCMU', 'PCMA']);
  assert.equal(o.telephoneEvent, 101);
  assert.equal(o.direction, 'sendrecv');
});
