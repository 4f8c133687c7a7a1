/**
 * /asyncapi.json: the two WebSocket endpoints and their messages, as an AsyncAPI 3.0 document
 * (OpenAPI has no way to say what flows on a socket; /openapi.json describes only the upgrade).
 * Written from Dialtone's side: `send` is what Dialtone sends, `receive` what it reads.
 */
import type { TSchema } from '@sinclair/typebox';
import { EVENT_MESSAGES } from './dialects/deployment/event-messages.js';
import { RELAY_INCOMING, RELAY_OUTGOING } from './twilio/relay-messages.js';

type Messages = Record<string, { summary: string; schema: TSchema }>;

/** `call.started` → `callStarted`: AsyncAPI keys are identifiers. */
const keyOf = (prefix: string, type: string) => prefix + type.replace(/(^|[._])(\w)/g, (_m, _s, c: string) => c.toUpperCase());

/** Plain JSON: TypeBox's symbols and anything undefined dropped. */
const plain = (s: TSchema) => JSON.parse(JSON.stringify(s)) as Record<string, unknown>;

function componentMessages(prefix: string, messages: Messages) {
  return Object.fromEntries(Object.entries(messages).map(([type, m]) => {
    const payload = plain(m.schema);
    const examples = payload.examples as unknown[] | undefined;
    delete payload.examples;
    return [keyOf(prefix, type), {
      name: type, title: type, summary: m.summary, contentType: 'application/json', payload,
      ...(examples ? { examples: examples.map((e) => ({ payload: e })) } : {}),
    }];
  }));
}

const refs = (prefix: string, messages: Messages, path: string) =>
  Object.keys(messages).map((type) => ({ $ref: `${path}/${keyOf(prefix, type)}` }));

export function asyncApiDocument(publicUrl: string): Record<string, unknown> {
  const url = new URL(publicUrl);
  const events = componentMessages('event', EVENT_MESSAGES);
  const fromTwilio = componentMessages('relayIn', RELAY_INCOMING);
  const toTwilio = componentMessages('relayOut', RELAY_OUTGOING);
  const channelMessages = (msgs: Record<string, unknown>) => Object.fromEntries(Object.keys(msgs).map((k) => [k, { $ref: `#/components/messages/${k}` }]));
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Dialtone WebSockets', version: '0.1.0',
      description: 'The live events stream and the Twilio ConversationRelay socket. Every message is one JSON text frame.',
    },
    defaultContentType: 'application/json',
    servers: {
      dialtone: {
        host: url.host, protocol: url.protocol === 'https:' ? 'wss' : 'ws',
        description: 'This Dialtone (PUBLIC_URL)',
      },
    },
    channels: {
      events: {
        address: '/events/ws',
        title: 'Live call and line events',
        description: 'A tenant\'s call events and line state. `?call_sid=` narrows it to one call (and leaves line events out); a platform admin picks the tenant with `?tenant_id=` or X-Account-ID. At most 10 sockets per agent or key.',
        messages: channelMessages(events),
        bindings: {
          ws: {
            method: 'GET',
            query: {
              type: 'object',
              properties: {
                call_sid: { type: 'string', description: "only this call's events" },
                tenant_id: { type: 'string', description: 'platform admin: the tenant to watch' },
                token: { type: 'string', description: 'the key, for clients that cannot set headers' },
              },
            },
          },
        },
      },
      relay: {
        address: '/relay/ws',
        title: 'Twilio ConversationRelay',
        description: 'Twilio connects here for a call answered by a relay agent; the handshake carries Twilio\'s signature.',
        messages: { ...channelMessages(fromTwilio), ...channelMessages(toTwilio) },
        bindings: { ws: { method: 'GET', query: { type: 'object', properties: { account_sid: { type: 'string' } } } } },
      },
    },
    operations: {
      sendEvents: {
        action: 'send', channel: { $ref: '#/channels/events' }, summary: 'Dialtone streams events as they happen',
        security: [{ $ref: '#/components/securitySchemes/bearer' }, { $ref: '#/components/securitySchemes/tokenQuery' }],
        messages: refs('event', EVENT_MESSAGES, '#/channels/events/messages'),
      },
      receiveFromTwilio: {
        action: 'receive', channel: { $ref: '#/channels/relay' }, summary: 'What Twilio sends about the call',
        security: [{ $ref: '#/components/securitySchemes/twilioSignature' }],
        messages: refs('relayIn', RELAY_INCOMING, '#/channels/relay/messages'),
      },
      sendToTwilio: {
        action: 'send', channel: { $ref: '#/channels/relay' }, summary: 'What Dialtone answers',
        security: [{ $ref: '#/components/securitySchemes/twilioSignature' }],
        messages: refs('relayOut', RELAY_OUTGOING, '#/channels/relay/messages'),
      },
    },
    components: {
      messages: { ...events, ...fromTwilio, ...toTwilio },
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'An API key or login token as Authorization: Bearer' },
        tokenQuery: { type: 'httpApiKey', in: 'query', name: 'token', description: 'The key as ?token= (browsers cannot set headers on a WebSocket)' },
        twilioSignature: { type: 'httpApiKey', in: 'header', name: 'X-Twilio-Signature', description: "Twilio's request signature" },
      },
    },
  };
}
