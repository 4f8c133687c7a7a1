/** A few raw SIP requests over UDP, to play the registrar or a caller sending to our Contact. */
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';

export interface RawResponse {
  status: number;
  text: string;
}

export interface RawOptions {
  /** Adds a small PCMU offer. */
  sdp?: boolean;
  body?: string;
  contentType?: string;
  /** Replace or add headers (Max-Forwards, ...). */
  headers?: Record<string, string>;
  noContact?: boolean;
  /** Local address to send from (another loopback address plays an unknown source). */
  bindAddress?: string;
}

const OFFER = ['v=0', 'o=raw 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', 'm=audio 49170 RTP/AVP 0', 'a=rtpmap:0 PCMU/8000', ''].join('\r\n');

/** Sends one request and collects responses until a final one (or the timeout). */
export function sendUdpRequest(port: number, method: string, requestUri: string, extra: string[] | RawOptions = [], timeoutMs = 5_000): Promise<RawResponse[]> {
  const o: RawOptions = Array.isArray(extra) ? {} : extra;
  const extraHeaders = Array.isArray(extra) ? extra : Object.entries(o.headers ?? {}).map(([k, v]) => `${k}: ${v}`);
  const body = o.sdp ? OFFER : o.body ?? '';
  const contentType = o.sdp ? 'application/sdp' : o.contentType;
  const sock = createSocket('udp4');
  const branch = `z9hG4bK${randomBytes(6).toString('hex')}`;
  return new Promise((resolve, reject) => {
    const got: RawResponse[] = [];
    const timer = setTimeout(() => { sock.close(); reject(new Error(`no final response to ${method}; got ${got.map((r) => r.status).join(',')}`)); }, timeoutMs);
    sock.on('message', (buf) => {
      const text = buf.toString();
      const status = Number(/^SIP\/2\.0 (\d{3})/.exec(text)?.[1]);
      got.push({ status, text });
      if (status >= 200) {
        clearTimeout(timer);
        if (method === 'INVITE') {
          // ACK the non-2xx final response so the server transaction can end cleanly.
          const to = /^To: (.*)$/mi.exec(text)?.[1] ?? '';
          sock.send(Buffer.from([`ACK ${requestUri} SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.1:${(sock.address()).port};branch=${branch}`,
            'Max-Forwards: 70', 'From: <sip:caller@127.0.0.1>;tag=abc', `To: ${to}`, `Call-ID: ${callId}`, 'CSeq: 1 ACK', 'Content-Length: 0', '', ''].join('\r\n')),
          port, '127.0.0.1', () => { sock.close(); resolve(got); });
        } else {
          sock.close();
          resolve(got);
        }
      }
    });
    const callId = `${randomBytes(8).toString('hex')}@127.0.0.1`;
    sock.bind(0, o.bindAddress ?? '127.0.0.1', () => {
      const msg = [
        `${method} ${requestUri} SIP/2.0`,
        `Via: SIP/2.0/UDP ${o.bindAddress ?? '127.0.0.1'}:${sock.address().port};branch=${branch};rport`,
        ...(o.headers?.['Max-Forwards'] ? [] : ['Max-Forwards: 70']),
        'From: <sip:caller@127.0.0.1>;tag=abc',
        `To: <${requestUri}>`,
        `Call-ID: ${callId}`,
        `CSeq: 1 ${method}`,
        ...(o.noContact ? [] : [`Contact: <sip:caller@${o.bindAddress ?? '127.0.0.1'}:${sock.address().port}>`]),
        ...extraHeaders,
        ...(contentType ? [`Content-Type: ${contentType}`] : []),
        `Content-Length: ${Buffer.byteLength(body)}`,
        '',
        body,
      ].join('\r\n');
      sock.send(Buffer.from(msg), port, '127.0.0.1');
    });
  });
}
