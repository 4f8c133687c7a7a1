import { Type, type Static } from '@sinclair/typebox';
import { PROVIDERS, type Provider } from '../../../domain/credentials.js';
import { ListWindowQuery } from '../../list-window.js';

export const numberTags = ['Telephony numbers'];
export const providerTags = ['Telephony providers'];

// A plain enum (not a union of literals) so a wrong value is reported as "must be one of …".
const ProviderName = Type.Unsafe<Provider>({ type: 'string', enum: [...PROVIDERS] });
const Id = Type.String({ maxLength: 64 });
const NullableId = Type.Unsafe<string | null>({ type: ['string', 'null'], maxLength: 64 });

/** Server-set fields a client may echo back; accepted and ignored. Anything else unknown is refused. */
const ServerSet = {
  id: Type.Optional(Type.Unknown({ description: 'server-set; ignored' })),
  created_at: Type.Optional(Type.Unknown({ description: 'server-set; ignored' })),
  updated_at: Type.Optional(Type.Unknown({ description: 'server-set; ignored' })),
};

export const IdParams = Type.Object({ id: Id });
export type IdParams = Static<typeof IdParams>;

export const NumbersQuery = Type.Object({ agent_id: Type.Optional(Id), ...ListWindowQuery });
export type NumbersQuery = Static<typeof NumbersQuery>;

export const CreateNumberBody = Type.Object({
  e164: Type.String({ maxLength: 16, description: 'E.164, e.g. +12025550123' }),
  provider: Type.Optional(ProviderName),
  credentials_id: Type.Optional(NullableId),
  agent_id: Type.Optional(NullableId),
  inbound_enabled: Type.Optional(Type.Boolean({ default: true })),
  outbound_enabled: Type.Optional(Type.Boolean({ default: true })),
  ...ServerSet,
}, { additionalProperties: false, examples: [{ e164: '+12025550123', provider: 'twilio', inbound_enabled: true }] });
export type CreateNumberBody = Static<typeof CreateNumberBody>;

/** Each field left out keeps its value; a body that changes nothing is refused (handler). */
export const UpdateNumberBody = Type.Object({
  agent_id: Type.Optional(Type.Unsafe<string | null>({ type: ['string', 'null'], maxLength: 64, description: 'an agent id pins the number to it; null unpins' })),
  credentials_id: Type.Optional(Type.Unsafe<string | null>({ type: ['string', 'null'], maxLength: 64, description: 'moves the number to another credential of the same carrier; null detaches it' })),
  inbound_enabled: Type.Optional(Type.Boolean()),
  outbound_enabled: Type.Optional(Type.Boolean()),
  ...ServerSet,
}, { additionalProperties: false });
export type UpdateNumberBody = Static<typeof UpdateNumberBody>;

export const PhoneNumberReply = Type.Object({
  id: Type.String(),
  e164: Type.String(),
  provider: Type.Union([Type.String(), Type.Null()]),
  credentials_id: Type.Union([Type.String(), Type.Null()]),
  agent_id: Type.Union([Type.String(), Type.Null()]),
  inbound_enabled: Type.Boolean(),
  outbound_enabled: Type.Boolean(),
  created_at: Type.String(),
  updated_at: Type.String(),
});

export const NumbersReply = Type.Object({ numbers: Type.Array(PhoneNumberReply) });

export const CreateProviderBody = Type.Object({
  provider: ProviderName,
  label: Type.String({ minLength: 1, maxLength: 200 }),
  credentials: Type.Object({}, {
    additionalProperties: Type.String({ maxLength: 256 }),
    description: 'twilio: {account_sid, auth_token}; plivo and vobiz: {auth_id, auth_token}',
    writeOnly: true,
  }),
  ...ServerSet,
}, { additionalProperties: false });
export type CreateProviderBody = Static<typeof CreateProviderBody>;

/** Metadata only: neither the secret nor the account id ever leaves. */
export const ProviderReply = Type.Object({
  id: Type.String(),
  provider: Type.String(),
  label: Type.String(),
  created_at: Type.String(),
  updated_at: Type.String(),
});

export const ProvidersReply = Type.Object({ providers: Type.Array(ProviderReply) });

export const TextError = Type.String({ description: 'plain-text reason' });
