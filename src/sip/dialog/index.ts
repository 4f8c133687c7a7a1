/** Public surface of the dialog layer. */
export { DialogLayer, IncomingInvite, ALLOW } from './layer.js';
export type { DialogLayerOptions, InviteOptions, InviteOutcome, OutgoingInvite } from './layer.js';
export { Dialog, IncomingDialogRequest } from './dialog.js';
export type { DialogEndReason, DialogEvents, DialogRole, MessageExtras } from './dialog.js';
