/** Public surface of the SIP stack. */
export { createSipStack } from './stack.js';
export type {
  IncomingContext,
  OutgoingRequest,
  RequestResult,
  SipStack,
  SipStackInternals,
  SipStackOptions,
  SipStackStats,
} from './stack.js';
export { SipError, SipParseError, SipResolveError, SipTimeoutError, SipTransportError } from './errors.js';
export type { PartialMessage, SipErrorKind } from './errors.js';
export { newBranch, newCallId, newTag, BRANCH_MAGIC_COOKIE } from './ids.js';
export { createResponse, REASON_PHRASES, SipHeaders, SipRequest, SipResponse, isRequest } from './message.js';
export type { HeaderInit, ResponseOptions, SipMessage } from './message.js';
export { parseMessage, StreamFramer, DEFAULT_MAX_MESSAGE_SIZE } from './parser.js';
export type { FramerEvent } from './parser.js';
export { cloneUri, formatHost, formatUri, parseUri } from './uri.js';
export type { SipUri, UriScheme } from './uri.js';
export {
  canonicalName,
  COMPACT_FORMS,
  formatNameAddr,
  formatVia,
  parseCSeq,
  parseNameAddr,
  parseNameAddrList,
  parseVia,
  parseVias,
  Via,
} from './headers.js';
export type { CSeq, NameAddr } from './headers.js';
export { splitTopLevel } from './lex.js';
export { computeDigest, DigestClient, parseChallenge } from './digest.js';
export type { DigestAlgorithm, DigestChallenge, DigestCredentials } from './digest.js';
export { Resolver, systemDns, orderSrv } from './resolver.js';
export type { DnsLike, ResolvedTarget, TransportName } from './resolver.js';
export { DEFAULT_TIMERS, realClock } from './transaction/timers.js';
export type { Clock, TimerValues } from './transaction/timers.js';
export type { SipLogger } from './logger.js';
export type { ListeningPorts } from './transport/layer.js';
export { ALLOW, Dialog, DialogLayer, IncomingDialogRequest, IncomingInvite, IncomingRefer, Referral } from './dialog/index.js';
export type { DialogEndReason, DialogLayerOptions, InviteOptions, InviteOutcome, MessageExtras, OutgoingInvite, SessionTimerConfig } from './dialog/index.js';
export { digestMatches, NonceIssuer, parseDigestAnswer } from './digest-server.js';
export type { DigestAnswer, NonceState } from './digest-server.js';
