import { Type, type Static } from '@sinclair/typebox';
import { CALL_HANDLERS } from '../../../domain/call-handler.js';
import { LIMITS, OFFSET_MAX, PAGE_SIZE } from '../../../domain/registrations.js';

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
}, {
  additionalProperties: false,
  examples: [{
    type: 'phone-registration', name: 'Front desk', registrar: 'sip:pbx.example.com:5060;transport=tcp',
    username: '1001', password: 'ext-secret', options: { expires: 600 },
  }],
});
export type CreateBody = Static<typeof CreateBody>;

export const UpdateBody = Type.Object({
  type: Type.Optional(stringEnum(['phone-registration'] as const)),
  ...registrationFields,
}, { additionalProperties: false });
export type UpdateBody = Static<typeof UpdateBody>;

export const ListenBody = Type.Object({
  id: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  number: Type.Optional(Type.String({ maxLength: 32 })),
  // Aplisay's activation options (llm-agent api/paths/agents/{agentId}/listen.js). Accepted so its
  // clients work; a SIP listener has no debug transcript socket or per-activation metadata to keep.
  options: Type.Optional(Type.Object({
    streamLog: Type.Optional(Type.Boolean()),
    metadata: Type.Optional(Type.Object({}, { additionalProperties: true })),
  }, { additionalProperties: true })),
}, { additionalProperties: false });

export const EndpointParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) });
export const AgentParams = Type.Object({ agentId: Type.String({ minLength: 1, maxLength: 128 }) });
export const ListenerParams = Type.Object({ agentId: Type.String({ minLength: 1, maxLength: 128 }), listenerId: Type.String({ minLength: 1, maxLength: 128 }) });

// Credentials may also come as ?token= or ?accesskey=, so unknown query keys are allowed.
export const ListQuery = Type.Object({
  page_size: Type.Optional(Type.Integer({ minimum: 1, maximum: PAGE_SIZE.max })),
  page_token: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
  // How Aplisay's clients page and filter (llm-agent api/paths/phone-endpoints.js, GET).
  offset: Type.Optional(Type.Integer({ minimum: 0, maximum: OFFSET_MAX })),
  pageSize: Type.Optional(Type.Integer({ minimum: 1, maximum: PAGE_SIZE.max, description: 'page_size by its Aplisay name' })),
  type: Type.Optional(stringEnum(ENDPOINT_TYPES)),
});

/** Fields that belong to only one endpoint type; sending them with the other type is an error. */
export const FIELDS_OF: Record<EndpointType, readonly (keyof CreateBody)[]> = {
  'phone-registration': ['registrar', 'username', 'password', 'options', 'outbound', 'handler'],
  'e164-ddi': ['number'],
};

// Responses. A response schema is also the serializer's list of fields: a field absent here
// never leaves, which is what keeps a registration's password out of every answer.

const Nullable = Type.Unsafe<string | null>({ type: ['string', 'null'] });

/** A registration or a number (DDI), one shape: fields only one type has are optional. */
export const EndpointView = Type.Object({
  id: Type.String(),
  type: stringEnum(ENDPOINT_TYPES),
  handler: Type.Optional(stringEnum(CALL_HANDLERS)),
  status: Type.Optional(Type.String()),
  state: Type.Optional(Type.String()),
  error: Type.Optional(Type.String({ description: 'the last registrar failure, while there is one' })),
  name: Type.Optional(Type.String()),
  registrar: Type.Optional(Type.String()),
  username: Type.Optional(Type.String()),
  outbound: Type.Optional(Type.Boolean()),
  options: Type.Optional(Options),
  number: Type.Optional(Type.String()),
  agent_id: Nullable,
});
export type EndpointView = Static<typeof EndpointView>;

const Success = { success: Type.Literal(true) };

export const IdReply = Type.Object({ ...Success, id: Type.String() });
export const EndpointReply = Type.Composite([Type.Object(Success), EndpointView]);
export const EndpointsReply = Type.Object({
  ...Success,
  items: Type.Array(EndpointView),
  next_page_token: Nullable,
  nextOffset: Type.Optional(Type.Union([Type.Integer(), Type.Null()], { description: 'the offset of the next page, null at the end; absent when paging by page_token' })),
});
export const StatusReply = Type.Object({ ...Success, id: Type.String(), status: Type.String(), state: Type.String() });
export const ListenReply = Type.Object({ ...Success, agent_id: Type.String(), id: Type.String(), number: Type.Optional(Type.String({ description: 'when the endpoint is a number' })) });

/** This dialect's error envelope. */
export const ErrorReply = Type.Object({ success: Type.Literal(false), error: Type.String({ description: 'what was wrong' }) });
/** The statuses a domain error can take here (429 is the rate limiter's own body, shared by all dialects). */
export const errorResponses = Object.fromEntries([400, 401, 403, 404, 409, 412, 413, 415, 502, 503].map((s) => [s, ErrorReply])) as Record<400 | 401 | 403 | 404 | 409 | 412 | 413 | 415 | 502 | 503, typeof ErrorReply>;
