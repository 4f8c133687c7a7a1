/**
 * SIPp scenarios for the call tests, written out per test so each can say what it checks
 * (headers, delays, where its media goes). A failed <ereg check_it> or an unexpected message makes
 * SIPp exit non-zero, which the tests assert on.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';

const PCAP = '/usr/share/sip-tester/g711a.pcap';

/** A response to the last request; `tag` adds our To tag (not for requests inside the dialog). */
const reply = (status: string, opts: { tag?: boolean; headers?: string[]; body?: string; contact?: string } = {}) => {
  const lines = [
    `SIP/2.0 ${status}`, '[last_Via:]', '[last_From:]',
    opts.tag === false ? '[last_To:]' : '[last_To:];tag=[pid]SIPpTag01[call_number]',
    '[last_Call-ID:]', '[last_CSeq:]', `Contact: <sip:${opts.contact ?? 'callee'}@[local_ip]:[local_port]>`, ...(opts.headers ?? []), 'Content-Length: [len]',
  ];
  return `
  <send>
    <![CDATA[
      ${lines.join('\n      ')}
${opts.body ?? ''}
    ]]>
  </send>`;
};

const sdp = (port: string, direction = 'sendrecv') => `
      v=0
      o=callee 1 1 IN IP4 127.0.0.1
      s=-
      c=IN IP4 127.0.0.1
      t=0 0
      m=audio ${port} RTP/AVP 8 101
      a=rtpmap:8 PCMA/8000
      a=rtpmap:101 telephone-event/8000
      a=${direction}`;

function scenario(name: string, body: string): string {
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>\n<!DOCTYPE scenario SYSTEM "sipp.dtd">\n<scenario name="${name}">${body}\n</scenario>\n`;
}

const xmlAttr = (v: string) => v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');

/** Headers the callee insists on: each must be present and match the regular expression. */
function checks(headers: Record<string, string>, more = ''): string {
  const list = Object.entries(headers).map(([h, re], i) =>
    `<ereg regexp="${xmlAttr(re)}" search_in="hdr" header="${h}:" check_it="true" assign_to="chk${i}"/>`).join('\n        ');
  // SIPp refuses a variable that is set and never read: log each check's match.
  const logs = Object.keys(headers).map((_, i) => `<log message="checked [$chk${i}]"/>`).join('');
  return list || more ? `<action>\n        ${list}${logs}\n        ${more}\n      </action>` : '';
}

/** Bodies (or anything else SIPp can search) that must match. */
function checksIn(where: 'body' | 'msg', patterns: Record<string, string>): string {
  const list = Object.entries(patterns).map(([name, re]) =>
    `<ereg regexp="${xmlAttr(re)}" search_in="${where}" check_it="true" assign_to="${name}"/><log message="checked [$${name}]"/>`).join('');
  return `<action>${list}</action>`;
}

/** What a callee needs to send its own BYE later: the caller's From, its own To and the caller's Contact. */
const DIALOG_VARS = `<ereg regexp=".*" search_in="hdr" header="From:" assign_to="caller"/>
        <ereg regexp=".*" search_in="hdr" header="To:" assign_to="callee"/>
        <ereg regexp="sips?:[^>;]*" search_in="hdr" header="Contact:" assign_to="contact"/>`;

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

/** A regular expression for the RFC 2617 response (no qop) to our 407 with nonce sippnonce1 (SIPp's first call). */
function digestResponse(c: { username: string; password: string; realm: string; uri: string }): string {
  const response = md5(`${md5(`${c.username}:${c.realm}:${c.password}`)}:sippnonce1:${md5(`INVITE:${c.uri}`)}`);
  return `username="${c.username}".*response="${response}"`;
}

export interface CalleeOptions {
  /** How long to ring before answering, ms. */
  answerAfterMs?: number;
  /** Port named in the answer's SDP, where the caller's RTP is expected (`[media_port+N]` also becomes the source of the pcap played). */
  rtpPort: number | string;
  requireHeaders?: Record<string, string>;
  /**
   * Challenge the first INVITE with 407 and require, on the second, the digest response these
   * credentials give for `uri` (SIPp's own verifyauth reads only Authorization, not Proxy-Authorization).
   */
  challenge?: { username: string; password: string; realm: string; uri: string };
  /** Who ends the call: the callee sends BYE after `hangUpAfterMs`, else it waits for the caller's. */
  hangUpAfterMs?: number;
  /** The INVITE comes without SDP: our 200 carries the offer and the ACK must carry the answer. */
  lateOffer?: boolean;
  /** Play g711a.pcap (or `pcap`) to the media address of the offer once the call is up (after `playAfterMs`). */
  playAudio?: boolean;
  pcap?: string;
  playAfterMs?: number;
  /** A re-INVITE putting the call on hold (a=sendonly) must arrive; it is answered a=recvonly. */
  expectHold?: boolean;
  /** After the answer, ask for a transfer to this URI with REFER and expect 202, NOTIFY 100, NOTIFY 200, then BYE. */
  referTo?: string;
  /** How long to wait for the other side's BYE, ms (default 30 s). */
  byeTimeoutMs?: number;
  /** Before the BYE, a session refresh carried through from the caller: UPDATE (no body), then a re-INVITE with an offer. */
  expectRefreshes?: boolean;
}

/** A phone (or LiveKit's SIP side) that answers. */
export function answeringCallee(o: CalleeOptions): string {
  const dialogVars = o.hangUpAfterMs !== undefined || o.referTo ? DIALOG_VARS : '';
  const offerCheck: Record<string, string> = o.lateOffer ? { 'Content-Length': '^ *0$' } : {};
  const challenge = o.challenge ? `
  <recv request="INVITE">${checks(o.requireHeaders ?? {})}</recv>
  ${reply('407 Proxy Authentication Required', { headers: [`Proxy-Authenticate: Digest realm="${o.challenge.realm}", nonce="sippnonce[call_number]", algorithm=MD5`] })}
  <recv request="ACK"/>
  <recv request="INVITE" rrs="true">${checks({ 'Proxy-Authorization': digestResponse(o.challenge) }, dialogVars)}</recv>
` : `
  <recv request="INVITE" rrs="true">${checks({ ...offerCheck, ...o.requireHeaders }, dialogVars)}</recv>`;
  const hangup = o.hangUpAfterMs !== undefined ? `
  <pause milliseconds="${o.hangUpAfterMs}"/>
  <send retrans="500">
    <![CDATA[
      BYE [$contact] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      From: [$callee];tag=[pid]SIPpTag01[call_number]
      To: [$caller]
      Call-ID: [call_id]
      CSeq: 9 BYE
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <recv response="200"/>` : `
  <recv request="BYE" timeout="${o.byeTimeoutMs ?? 30000}"/>
  ${reply('200 OK', { tag: false })}`;
  const refreshes = o.expectRefreshes ? `
  <recv request="UPDATE" timeout="60000"/>
  ${reply('200 OK', { tag: false })}
  <recv request="INVITE" timeout="60000">${checksIn('body', { reoffer: 'm=audio [0-9]+' })}</recv>
  ${reply('200 OK', { tag: false, headers: ['Content-Type: application/sdp'], body: sdp(String(o.rtpPort)) })}
  <recv request="ACK"/>` : '';
  return scenario('dialtone test callee', `${challenge}
  ${reply('180 Ringing')}
  <pause milliseconds="${o.answerAfterMs ?? 0}"/>
  ${reply('200 OK', { headers: ['Content-Type: application/sdp'], body: sdp(String(o.rtpPort)) })}
  <recv request="ACK">${o.lateOffer ? checksIn('body', { answer: 'm=audio [0-9]+ RTP/AVP' }) : ''}</recv>${o.playAudio ? `${o.playAfterMs ? `
  <pause milliseconds="${o.playAfterMs}"/>` : ''}
  <nop>
    <action>
      <exec play_pcap_audio="${o.pcap ?? PCAP}"/>
    </action>
  </nop>` : ''}${o.expectHold ? `
  <recv request="INVITE" timeout="30000">${checksIn('body', { held: 'a=sendonly' })}</recv>
  ${reply('200 OK', { tag: false, headers: ['Content-Type: application/sdp'], body: sdp(String(o.rtpPort), 'recvonly') })}
  <recv request="ACK"/>` : ''}${refreshes}${o.referTo ? refer(o.referTo) : hangup}
  <label id="end"/>`);
}

/** The callee's REFER and what must follow it: 202, the two NOTIFYs of the subscription, our BYE. */
function refer(target: string): string {
  const notify = (frag: string) => `
  <recv request="NOTIFY" timeout="20000">${checksIn('body', { [`frag${frag}`]: `SIP/2.0 ${frag}` })}</recv>
  ${reply('200 OK', { tag: false })}`;
  return `
  <pause milliseconds="300"/>
  <send retrans="500">
    <![CDATA[
      REFER [$contact] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      From: [$callee];tag=[pid]SIPpTag01[call_number]
      To: [$caller]
      Call-ID: [call_id]
      CSeq: 10 REFER
      Contact: <sip:callee@[local_ip]:[local_port]>
      Refer-To: <${target}>
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <recv response="202"/>${notify('100')}${notify('200')}
  <recv request="BYE" timeout="20000"/>
  ${reply('200 OK', { tag: false })}`;
}

/** A phone that is busy. */
export function busyCallee(): string {
  return scenario('dialtone busy callee', `
  <recv request="INVITE"/>
  ${reply('486 Busy Here')}
  <recv request="ACK"/>`);
}

/** A phone that rings until it is cancelled (then 200 for the CANCEL and 487 for the INVITE). */
export function ringingCallee(): string {
  return scenario('dialtone ringing callee', `
  <recv request="INVITE">
    <action><ereg regexp="[0-9]+" search_in="hdr" header="CSeq:" assign_to="cseq"/></action>
  </recv>
  ${reply('180 Ringing')}
  <recv request="CANCEL" timeout="30000"/>
  ${reply('200 OK', { tag: false })}
  <send>
    <![CDATA[
      SIP/2.0 487 Request Terminated
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      CSeq: [$cseq] INVITE
      Content-Length: 0
    ]]>
  </send>
  <recv request="ACK"/>`);
}

/** The caller's SDP: PCMA and telephone-event at `port` (SIPp's media port unless a test's own socket). */
const callerSdp = (version: number, direction: string, port = '[media_port]') => `
      v=0
      o=caller 1 ${version} IN IP4 [local_ip]
      s=-
      c=IN IP4 [media_ip]
      t=0 0
      m=audio ${port} RTP/AVP 8 101
      a=rtpmap:8 PCMA/8000
      a=rtpmap:101 telephone-event/8000
      a=${direction}`;

export interface CallerOptions {
  /** Hang up after this long in the call, ms; without it the caller waits for the other side's BYE. */
  hangUpAfterMs?: number;
  /** Cancel after this long ringing instead of waiting for an answer. */
  cancelAfterMs?: number;
  /** Before the BYE, an INFO with this dtmf-relay Signal must arrive (answered 200). */
  expectDtmf?: string;
  /** Puts the call on hold with a re-INVITE (a=sendonly) this long after the answer; the answer must say recvonly. */
  holdAfterMs?: number;
  /** A re-INVITE from Dialtone (the call moved to another party) must arrive; it is answered with our SDP. */
  expectReinvite?: boolean;
  /** A REFER must arrive first (a supervisor's transfer); it is refused with 603. */
  refuseRefer?: boolean;
  /** After the audio, a REFER whose Refer-To matches this must arrive; it is accepted (202). */
  acceptRefer?: string;
  /**
   * The RTP port our offer names (a test's own socket) instead of SIPp's media port; or SIPp's
   * `[media_port+N]`, which also becomes the source port of the pcap SIPp plays (SIPp does not
   * bind it, so a test's socket there hears what is sent back).
   */
  sdpMediaPort?: number | string;
  /** Play g711a.pcap (or this pcap) once answered (default); off when the test's own socket is the media. */
  playAudio?: boolean;
  pcap?: string;
  /** Wait this long after the answer before playing. */
  playAfterMs?: number;
  /** The first INVITE must be challenged with 407; it is sent again with these digest credentials (SIPp's [authentication]). */
  auth?: { username: string; password: string };
}

const inviteHeaders = `
      From: "Test Caller" <sip:+15550001111@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]`;

/** A caller with a PCMA offer that plays g711a.pcap once answered. */
export function caller(o: CallerOptions = {}): string {
  const inviteWith = (cseq: number, extra: string) => `
  <send retrans="500">
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]${inviteHeaders}
      CSeq: ${cseq} INVITE
      Contact: <sip:caller@[local_ip]:[local_port]>${extra}
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]
${callerSdp(1, 'sendrecv', o.sdpMediaPort === undefined ? undefined : String(o.sdpMediaPort))}
    ]]>
  </send>
  <recv response="100" optional="true"/>`;
  // With credentials: INVITE, 407, ACK, INVITE with Proxy-Authorization (CSeq 2).
  const answered = o.auth ? 2 : 1;
  const invite = o.auth ? `${inviteWith(1, '')}
  <recv response="407" auth="true">${checksIn('msg', { challenged: 'Proxy-Authenticate: Digest realm=' })}</recv>
  <send>
    <![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      [last_Via:]${inviteHeaders}
      [last_To:]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>${inviteWith(2, `
      [authentication username=${o.auth.username} password=${o.auth.password}]`)}` : inviteWith(1, '');
  if (o.cancelAfterMs !== undefined) {
    return scenario('dialtone cancelling caller', `${invite}
  <recv response="180"/>
  <pause milliseconds="${o.cancelAfterMs}"/>
  <send>
    <![CDATA[
      CANCEL sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      [last_Via:]${inviteHeaders}
      CSeq: 1 CANCEL
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <recv response="200"/>
  <recv response="487"/>
  <send>
    <![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      [last_Via:]${inviteHeaders}
      [last_To:]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>`);
  }
  const dtmf = o.expectDtmf !== undefined ? `
  <recv request="INFO" timeout="30000">${checksIn('body', { digit: `Signal=${o.expectDtmf}` })}</recv>
  ${reply('200 OK', { tag: false, contact: 'caller' })}` : '';
  const hold = o.holdAfterMs !== undefined ? `
  <pause milliseconds="${o.holdAfterMs}"/>
  <send retrans="500">
    <![CDATA[
      INVITE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      From: "Test Caller" <sip:+15550001111@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 3 INVITE
      Contact: <sip:caller@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]
${callerSdp(2, 'sendonly')}
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="200">${checksIn('body', { held: 'a=recvonly' })}</recv>
  <send>
    <![CDATA[
      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      From: "Test Caller" <sip:+15550001111@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 3 ACK
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>` : '';
  const refused = o.refuseRefer ? `
  <recv request="REFER" timeout="30000">${checksIn('msg', { referTo: 'Refer-To: <sip:\\+[0-9]+@' })}</recv>
  ${reply('603 Decline', { tag: false, contact: 'caller' })}` : '';
  const moved = o.expectReinvite ? `${refused}
  <recv request="INVITE" timeout="30000">${checksIn('body', { moved: 'm=audio [0-9]+' })}</recv>
  ${reply('200 OK', { tag: false, contact: 'caller', headers: ['Content-Type: application/sdp'], body: callerSdp(3, 'sendrecv') })}
  <recv request="ACK"/>` : '';
  const accepted = o.acceptRefer !== undefined ? `
  <recv request="REFER" timeout="30000">${checksIn('msg', { referTo: `Refer-To: ${o.acceptRefer}` })}</recv>
  ${reply('202 Accepted', { tag: false, contact: 'caller' })}` : '';
  // After a request from the other side, [last_To:] is our own address: keep the peer's for the BYE.
  const peerTo = (o.expectReinvite || o.acceptRefer !== undefined) && o.hangUpAfterMs !== undefined;
  const ending = o.hangUpAfterMs !== undefined ? `
  <pause milliseconds="${o.hangUpAfterMs}"/>
  <send retrans="500">
    <![CDATA[
      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      From: "Test Caller" <sip:+15550001111@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      ${peerTo ? 'To: [$peer_to]' : '[last_To:]'}
      Call-ID: [call_id]
      CSeq: 4 BYE
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <recv response="200"/>` : `
  <recv request="BYE" timeout="30000"/>
  ${reply('200 OK', { tag: false, contact: 'caller' })}`;
  return scenario('dialtone caller', `${invite}
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rtd="true" rrs="true">${peerTo ? '<action><ereg regexp=".*" search_in="hdr" header="To:" assign_to="peer_to"/></action>' : ''}</recv>
  <send>
    <![CDATA[
      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      From: "Test Caller" <sip:+15550001111@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: ${answered} ACK
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
${o.playAudio === false ? '' : `${o.playAfterMs ? `
  <pause milliseconds="${o.playAfterMs}"/>` : ''}
  <nop>
    <action>
      <exec play_pcap_audio="${o.pcap ?? PCAP}"/>
    </action>
  </nop>`}${hold}${moved}${dtmf}${accepted}${ending}`);
}

/** A temporary folder of scenario files; `remove()` deletes it. */
export function scenarioDir(): { write(name: string, xml: string): string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'dialtone-sipp-'));
  return {
    write(name, xml) {
      const path = join(dir, name);
      writeFileSync(path, xml);
      return path;
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
