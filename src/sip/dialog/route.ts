/**
 * Where an in-dialog request goes (RFC 3261 §12.2.1.1): the Request-URI, the Route headers and the
 * first hop, from the dialog's route set and remote target, for loose and strict next hops.
 */
import { formatNameAddr, type NameAddr } from '../headers.js';
import type { TransportName } from '../resolver.js';
import { cloneUri, formatUri, type SipUri } from '../uri.js';

export interface RoutedRequest {
  /** Request-URI. */
  uri: string;
  /** Route header values, in order. */
  route: string[];
  /** First hop when it is not the Request-URI (a loose-routing proxy). */
  target?: { host: string; port: number };
  transport: TransportName;
}

/** The transport a SIP URI asks for (sips → TLS, then ;transport=, else UDP). */
export function uriTransport(uri: SipUri): TransportName {
  if (uri.scheme === 'sips') return 'tls';
  const t = uri.params.get('transport')?.toLowerCase();
  return t === 'tcp' || t === 'tls' ? t : 'udp';
}

function defaultPort(uri: SipUri): number {
  return uri.port ?? (uriTransport(uri) === 'tls' ? 5061 : 5060);
}

/** §19.1.1: method and header components are not allowed in a Request-URI. */
function requestUri(uri: SipUri): SipUri {
  const u = cloneUri(uri);
  u.params.delete('method');
  u.headers.clear();
  return u;
}

export function routeRequest(routeSet: readonly NameAddr[], remoteTarget: SipUri): RoutedRequest {
  const first = routeSet[0];
  if (!first) return { uri: formatUri(requestUri(remoteTarget)), route: [], transport: uriTransport(remoteTarget) };
  if (first.uri.params.has('lr')) {
    return {
      uri: formatUri(requestUri(remoteTarget)),
      route: routeSet.map(formatNameAddr),
      target: { host: first.uri.params.get('maddr') ?? first.uri.host, port: defaultPort(first.uri) },
      transport: uriTransport(first.uri),
    };
  }
  // A strict router wants itself in the Request-URI and the remote target appended as the last Route.
  return {
    uri: formatUri(requestUri(first.uri)),
    route: [...routeSet.slice(1).map(formatNameAddr), `<${formatUri(remoteTarget)}>`],
    transport: uriTransport(first.uri),
  };
}
