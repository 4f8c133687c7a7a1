/**
 * SDP offer/answer (RFC 3264) for one audio stream of G.711 with RFC 4733 telephone events, as
 * the native voice runtime speaks it. Parsing and writing go through `sdp-transform`; this module
 * holds only the choices: which codec, which event payload type, where media goes, and hold.
 */
import { parse, write, type MediaDescription, type SessionDescription } from 'sdp-transform';
import type { G711Law } from './g711.js';

export type Direction = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

export interface RemoteMedia {
  /** Where to send RTP; `0.0.0.0` (RFC 2543 hold) is kept as given. */
  address: string;
  port: number;
  /** G.711 payloads offered, in the peer's order of preference. */
  codecs: Array<{ law: G711Law; pt: number }>;
  /** RFC 4733 payload type at 8000 Hz, when offered. */
  telephoneEvent: number | null;
  direction: Direction;
  /** The peer put the call on hold (sendonly, inactive, or a 0.0.0.0 address). */
  onHold: boolean;
  /** ptime the peer asks for, ms (20 when not said). */
  ptime: number;
}

export interface LocalMedia {
  address: string;
  port: number;
  /** Our preference; the first the peer also offers wins. */
  codecs?: G711Law[];
  /** Session version; bump it for each new offer or answer in a dialog. */
  version?: number;
  sessionId?: number;
}

export type Negotiation =
  | { ok: true; remote: RemoteMedia; codec: { law: G711Law; pt: number }; telephoneEvent: number | null; answer: string }
  | { ok: false; status: 488 | 400; reason: string };

const STATIC_PT: Record<number, G711Law> = { 0: 'PCMU', 8: 'PCMA' };

function audio(sdp: SessionDescription): MediaDescription | undefined {
  return sdp.media.find((m) => m.type === 'audio' && m.port !== 0);
}

/** Reads the first active audio stream of an offer or answer; null when there is none. */
export function readRemoteMedia(text: string): RemoteMedia | null {
  let sdp: SessionDescription;
  try {
    sdp = parse(text);
  } catch {
    return null;
  }
  const m = audio(sdp);
  if (!m) return null;
  const address = m.connection?.ip ?? sdp.connection?.ip;
  if (!address) return null;
  const pts = String(m.payloads ?? '').split(/\s+/).filter(Boolean).map(Number);
  const rtpmap = new Map((m.rtp ?? []).map((r) => [r.payload, r]));
  const codecs: RemoteMedia['codecs'] = [];
  let telephoneEvent: number | null = null;
  for (const pt of pts) {
    const map = rtpmap.get(pt);
    const name = (map?.codec ?? '').toUpperCase();
    if (map && name === 'TELEPHONE-EVENT' && (map.rate ?? 8000) === 8000) telephoneEvent ??= pt;
    else if ((name === 'PCMU' || name === 'PCMA') && (map!.rate ?? 8000) === 8000) codecs.push({ law: name, pt });
    else if (!map && STATIC_PT[pt]) codecs.push({ law: STATIC_PT[pt]!, pt });
  }
  const direction = (m.direction ?? sdp.direction ?? 'sendrecv') as Direction;
  const ptime = Number(m.ptime ?? 20) || 20;
  return { address, port: m.port, codecs, telephoneEvent, direction, onHold: direction === 'sendonly' || direction === 'inactive' || address === '0.0.0.0', ptime };
}

/** Our direction in answer to theirs (RFC 3264 §6.1). */
function answerDirection(theirs: Direction): Direction {
  return theirs === 'sendonly' ? 'recvonly' : theirs === 'recvonly' ? 'sendonly' : theirs;
}

/** One audio stream of `codecs` (and telephone-event `te`) in a session of ours. */
function session(local: LocalMedia, codecs: Array<{ law: G711Law; pt: number }>, te: number | null, direction: Direction): string {
  const payloads = [...codecs.map((c) => c.pt), ...(te !== null ? [te] : [])];
  return write({
    version: 0,
    origin: { username: 'dialtone', sessionId: local.sessionId ?? Math.floor(Date.now() / 1000), sessionVersion: local.version ?? 1, netType: 'IN', ipVer: 4, address: local.address },
    name: '-',
    timing: { start: 0, stop: 0 },
    connection: { version: 4, ip: local.address },
    media: [{
      type: 'audio',
      port: local.port,
      protocol: 'RTP/AVP',
      payloads: payloads.join(' '),
      rtp: [
        ...codecs.map((c) => ({ payload: c.pt, codec: c.law, rate: 8000 })),
        ...(te !== null ? [{ payload: te, codec: 'telephone-event', rate: 8000 }] : []),
      ],
      fmtp: te !== null ? [{ payload: te, config: '0-16' }] : [],
      ptime: 20,
      direction,
    }],
  });
}

/** Answers an offer: the first of our codecs the peer offers; 488 when none, 400 when it is not SDP. */
export function answerOffer(offer: string, local: LocalMedia): Negotiation {
  const remote = readRemoteMedia(offer);
  if (!remote) return { ok: false, status: 400, reason: 'the offer has no usable audio stream' };
  const prefer = local.codecs ?? ['PCMU', 'PCMA'];
  const codec = prefer.map((law) => remote.codecs.find((c) => c.law === law)).find(Boolean);
  if (!codec) return { ok: false, status: 488, reason: `no common codec: we speak ${prefer.join(', ')}, the offer has ${remote.codecs.map((c) => c.law).join(', ') || 'neither'}` };
  return { ok: true, remote, codec, telephoneEvent: remote.telephoneEvent, answer: session(local, [codec], remote.telephoneEvent, answerDirection(remote.direction)) };
}

/** An offer of every codec we speak and telephone-event 101 (calls we place). */
export function createOffer(local: LocalMedia, direction: Direction = 'sendrecv'): string {
  const prefer = local.codecs ?? ['PCMU', 'PCMA'];
  return session(local, prefer.map((law) => ({ law, pt: law === 'PCMU' ? 0 : 8 })), 101, direction);
}
