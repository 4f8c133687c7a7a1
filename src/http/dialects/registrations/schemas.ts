import { Type, type Static } from '@sinclair/typebox';
import { CALL_HANDLERS } from '../../../domain/call-handler.js';
import { LIMITS, PAGE_SIZE } from '../../../domain/registrations.js';

export const ENDPOINT_TYPES = ['phone-registration', 'e164-ddi'] as const;
export type EndpointType = (typeof ENDPOINT_TYPES)[number];

/** A string enum as plain JSON schema, so a wrong value is reported as "must be one of …". */
function stringEnum<T extends string>(values: readonly T[]) {
  return Type.Unsafe<T>({ type: 'string', enum: [...values] });
}

const Name = Type.String({ maxLength: LIMITS.name });
const Options = Type.Object({}, { additionalProperties: true });

/** What a registration's create and update bodies share; all optional at the shape level (the service decides what is required). */
const registrationFields = {
  handler: Type.Optional(stringEnum(CALL_HANDLERS)),
  outbound: Type.Optional(Type.Boolean()),
  name: Type.Optional(Name),
  registrar: Type.Optional(Type.String({ maxLength: 512 })),
  username: Type.Optional(Type.String({ minLength: 1, maxLength: LIMITS.username })),
  password: Type.Optional(Type.String({ minLength: 1, maxLength: LIMITS.password })),
  options: Type.Optional(Options),
};

export const CreateBody = Type.Object({
  type: stringEnum(ENDPOINT_TYPES),
  ...registrationFields,
  number: Type.Optional(Type.String({ maxLength: 32 })),
}, { additionalProperties: false });
export type CreateBody = Static<typeof CreateBody>;

export const UpdateBody = Type.Object({
  type: Type.Optional(stringEnum(['phone-registration'] as const)),
  ...registrationFields,
}, { additionalProperties: false });
export type UpdateBody = Static<typeof UpdateBody>;

export const ListenBody = Type.Object({
  id: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  number: Type.Optional(Type.String({ maxLength: 32 })),
}, { additionalProperties: false });

export const EndpointParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) });
export const AgentParams = Type.Object({ agentId: Type.String({ minLength: 1, maxLength: 128 }) });

// Credentials may also come as ?token= or ?accesskey=, so unknown query keys are allowed.
export const ListQuery = Type.Object({
  page_size: Type.Optional(Type.Integer({ minimum: 1, maximum: PAGE_SIZE.max })),
  page_token: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
});

/** Fields that belong to only one endpoint type; sending them with the other type is an error. */
export const FIELDS_OF: Record<EndpointType, readonly (keyof CreateBody)[]> = {
  'phone-registration': ['registrar', 'username', 'password', 'options', 'outbound', 'handler'],
  'e164-ddi': ['number'],
};
