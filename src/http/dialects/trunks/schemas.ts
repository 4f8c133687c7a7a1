import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { MAX_TRUNK_NUMBERS, TRUNK_TYPES, type TrunkType } from '../../../domain/trunks.js';

export const tags = ['SIP trunks'];

const Address = Type.String({ minLength: 1, maxLength: 260, description: 'hostname or IP, optional :port, optional sip: prefix' });
const Numbers = Type.Array(Type.String({ maxLength: 16 }), { minItems: 1, maxItems: MAX_TRUNK_NUMBERS, description: 'E.164 caller ids' });
const Username = Type.String({ minLength: 1, maxLength: 256 });
const Password = Type.String({ minLength: 1, maxLength: 256, writeOnly: true });

/**
 * The flat fields, or the same four nested as `trunk_config` the way api_livekit's current
 * clients send them (ShubhamX-AI/api_livekit src/api/models/api_schemas.py, TwilioTrunkConfig).
 * Which of the two was sent is checked by the handler, which names what is missing.
 */
export const CreateTrunkBody = Type.Object({
  trunk_name: Type.String({ minLength: 1, maxLength: 100 }),
  trunk_address: Type.Optional(Address),
  trunk_numbers: Type.Optional(Numbers),
  trunk_auth_username: Type.Optional(Username),
  trunk_auth_password: Type.Optional(Password),
  trunk_type: Type.Unsafe<TrunkType>({ type: 'string', enum: [...TRUNK_TYPES] }),
  trunk_config: Type.Optional(Type.Object({
    address: Address, numbers: Numbers, username: Username, password: Password,
  }, { additionalProperties: false })),
}, {
  additionalProperties: false,
  examples: [{
    trunk_name: 'Carrier A', trunk_address: 'sip:trunk.example.net:5060', trunk_numbers: ['+15550100000'],
    trunk_auth_username: 'acme', trunk_auth_password: 'trunk-secret', trunk_type: 'twilio',
  }],
});
export type CreateTrunkBody = Static<typeof CreateTrunkBody>;

export const TrunkParams = Type.Object({ trunk_id: Type.String({ maxLength: 64 }) });
export type TrunkParams = Static<typeof TrunkParams>;

/** What the list shows: no credentials at all. */
const TrunkSummary = Type.Object({
  trunk_id: Type.String(),
  trunk_name: Type.String(),
  trunk_address: Type.String(),
  trunk_numbers: Type.Array(Type.String()),
  trunk_type: Type.String(),
  trunk_created_at: Type.String(),
});

/** The single-trunk view adds the username; the password is never shown anywhere. */
const TrunkDetail = Type.Composite([TrunkSummary, Type.Object({ trunk_auth_username: Type.String() })]);

const envelope = <T extends TSchema>(data: T) =>
  Type.Object({ success: Type.Boolean(), message: Type.String(), data });

export const ErrorReply = envelope(Type.Null());
export const CreatedReply = envelope(Type.Object({ trunk_id: Type.String() }));
export const ListReply = envelope(Type.Array(TrunkSummary));
export const DetailReply = envelope(TrunkDetail);
export const DeletedReply = envelope(Type.Object({ trunk_id: Type.String() }));

/** `POST /call/outbound`, as the trunk API documents it. */
export const OutboundCallBody = Type.Object({
  assistant_id: Type.String({ minLength: 1, maxLength: 64, description: 'the agent (assistant) that takes the call' }),
  trunk_id: Type.String({ minLength: 1, maxLength: 64 }),
  to_number: Type.String({ minLength: 1, maxLength: 32, description: 'E.164, e.g. +15550100000' }),
  call_service: Type.Unsafe<TrunkType>({ type: 'string', enum: [...TRUNK_TYPES], description: 'must be the trunk\'s type' }),
  metadata: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'becomes the call\'s context' })),
}, {
  additionalProperties: false,
  examples: [{ assistant_id: 'ag_3f9a1c', trunk_id: 'tr_77b2e0', to_number: '+15550200000', call_service: 'twilio', metadata: { name: 'John' } }],
});
export type OutboundCallBody = Static<typeof OutboundCallBody>;

export const OutboundCallReply = envelope(Type.Object({
  call_sid: Type.String(),
  status: Type.String(),
  trunk_id: Type.String(),
  to_number: Type.String(),
  /** The LiveKit room is named by LiveKit once the callee answers; see the call's events. */
  room_name: Type.Null(),
}));
