import { Type } from '@sinclair/typebox';

/** What a WebSocket route answers a handshake with; its messages are described in /asyncapi.json. */
export const SwitchingProtocols = Type.Null({ description: 'Switching Protocols: the connection is a WebSocket from here on' });

/** A plain GET on a WebSocket route: said in the `{error, message}` envelope both socket routes' dialects use. */
export const UPGRADE_REQUIRED = { error: 'upgrade_required', message: 'this is a WebSocket endpoint: connect with Upgrade: websocket' } as const;
