/** Shared transport vocabulary. */
import type { TransportName } from '../resolver.js';

export type { TransportName };

/** Where a received message came from; responses to requests are routed back with it. */
export interface MessageSource {
  transport: TransportName;
  remoteAddress: string;
  remotePort: number;
  /** Our listening (UDP) or connection-local (TCP/TLS) port the message arrived on. */
  localPort: number;
  /** TCP/TLS only: the connection the message arrived on. */
  connectionId?: string;
}

/** Where to send: a resolved address plus the name used for TLS SNI / certificate checks. */
export interface Destination {
  transport: TransportName;
  address: string;
  port: number;
  /** Host name the address was resolved from; defaults to the address. */
  hostname?: string;
}

export function isReliable(t: TransportName): boolean {
  return t !== 'udp';
}

export function viaTransportToken(t: TransportName): 'UDP' | 'TCP' | 'TLS' {
  return t === 'udp' ? 'UDP' : t === 'tcp' ? 'TCP' : 'TLS';
}
