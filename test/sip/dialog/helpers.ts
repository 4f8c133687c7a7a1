/** Shared set-up for the dialog tests: two stacks on loopback UDP, each with a dialog layer. */
import { after } from 'node:test';
import { DialogLayer, type Dialog, type DialogLayerOptions, type MessageExtras } from '../../../src/sip/dialog/index.js';
import { createSipStack, type SipStackOptions } from '../../../src/sip/stack.js';
import { RawUdpPeer } from '../helpers.js';

export type Stack = ReturnType<typeof createSipStack>;

const running: Stack[] = [];
const peers: RawUdpPeer[] = [];

after(async () => {
  await Promise.all(running.map((s) => s.stop()));
  await Promise.all(peers.map((p) => p.close()));
});

export async function stack(opts: Partial<SipStackOptions> = {}): Promise<Stack> {
  const s = createSipStack({ host: '127.0.0.1', port: 0, timers: { T1: 50 }, ...opts });
  await s.start();
  running.push(s);
  return s;
}

export async function layer(opts: Partial<SipStackOptions> = {}, layerOpts: Partial<DialogLayerOptions> = {}): Promise<{ stack: Stack; layer: DialogLayer; port: number }> {
  const s = await stack(opts);
  return { stack: s, layer: new DialogLayer({ stack: s, ...layerOpts }), port: s.listening().udpPort };
}

/** Accepts the next INVITE on `l` and hands back the UAS dialog once it is ACKed. */
export function answering(l: DialogLayer, extras: MessageExtras = {}): Promise<Dialog> {
  return new Promise((resolve) => {
    l.onInvite((invite) => {
      const d = invite.accept(extras);
      d.on('ack', () => resolve(d));
    });
  });
}

/** A confirmed call from a to b: both dialogs, ACK seen. */
export async function call(opts: Partial<SipStackOptions> = {}, layerOpts: Partial<DialogLayerOptions> = {}, extras: { offer?: string; answer?: string; headers?: Record<string, string> } = {}) {
  const a = await layer(opts, layerOpts);
  const b = await layer(opts, layerOpts);
  const answered = answering(b.layer, extras.answer === undefined ? {} : { body: extras.answer });
  const out = await a.layer.invite({
    uri: `sip:bob@127.0.0.1:${b.port}`,
    from: '<sip:alice@127.0.0.1>',
    to: '<sip:bob@127.0.0.1>',
    ...(extras.offer === undefined ? {} : { body: extras.offer }),
    ...(extras.headers ? { headers: extras.headers } : {}),
  }).outcome;
  if (!out.dialog) throw new Error(`call failed: ${out.response.status}`);
  return { a, b, uac: out.dialog, uas: await answered, response: out.response };
}

/** A caller and a callee layer. */
export async function pair(opts: Partial<SipStackOptions> = {}) {
  const a = await layer(opts);
  const b = await layer(opts);
  return { a, b, uriOfB: `sip:bob@127.0.0.1:${b.port}` };
}

export async function peer(): Promise<RawUdpPeer> {
  const p = await RawUdpPeer.open();
  peers.push(p);
  return p;
}

export const SDP_OFFER = 'v=0\r\no=a 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n';
export const SDP_ANSWER = 'v=0\r\no=b 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n';

/** An INVITE as a raw peer would send it. */
export function rawInvite(port: number, toPort: number, opts: { branch?: string; callId?: string; extra?: string } = {}): string {
  return (
    `INVITE sip:bob@127.0.0.1:${toPort} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${port};branch=${opts.branch ?? 'z9hG4bKraw1'};rport\r\n` +
    `Max-Forwards: 70\r\nTo: <sip:bob@127.0.0.1>\r\nFrom: <sip:alice@127.0.0.1>;tag=rawtag\r\nCall-ID: ${opts.callId ?? 'raw-invite'}\r\n` +
    `CSeq: 1 INVITE\r\nContact: <sip:alice@127.0.0.1:${port}>\r\n${opts.extra ?? ''}Content-Length: 0\r\n\r\n`
  );
}
