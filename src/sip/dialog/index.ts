/** Public surface of the dialog layer. */
export { DialogLayer, IncomingInvite, ALLOW } from './layer.js';
export type { DialogLayerOptions, InviteOptions, InviteOutcome, OutgoingInvite } from './layer.js';
export { Dialog, IncomingDialogRequest } from './dialog.js';
export type { DialogEndReason, DialogEvents, DialogRole, MessageExtras } from './dialog.js';
export type { ReinviteOptions } from './dialog.js';
export { DTMF_RELAY, formatDtmfRelay, parseDtmfRelay } from './dtmf.js';
export type { DtmfDigit } from './dtmf.js';
export { formatSipfrag, IncomingRefer, parseSipfrag, Referral, SIPFRAG } from './refer.js';
export type { ReferProgress } from './refer.js';
export { parseSessionExpires, formatSessionExpires, MIN_SE_FLOOR, SessionTimer } from './session-timer.js';
export type { Refresher, SessionExpires, SessionTimerConfig } from './session-timer.js';
