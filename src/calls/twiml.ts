import twilio from 'twilio';

/** Where Twilio reaches this server, derived from PUBLIC_URL at the time of the call. */
export function publicUrls(publicUrl: string, accountSid: string) {
  const base = publicUrl.replace(/\/+$/, '');
  const ws = base.replace(/^http(s?):/i, (_m, s: string) => `ws${s}:`);
  return {
    relayAction: `${base}/twilio/relay-action`,
    status: `${base}/twilio/status`,
    // The account is in the URL so the handshake's signature can be checked before `setup` arrives:
    // Twilio signs the URL it was given, query included, with that account's auth token.
    relaySocket: `${ws}/relay/ws?account_sid=${encodeURIComponent(accountSid)}`,
  };
}

/**
 * Voice names of OpenAI's speech models, which deployment agents default to. Twilio's
 * ConversationRelay does not know them and would refuse the TwiML, so for these the voice is
 * left to Twilio's default for the language.
 */
const OPENAI_VOICES = new Set(['alloy', 'ash', 'ballad', 'coral', 'echo', 'fable', 'nova', 'onyx', 'sage', 'shimmer', 'verse']);

export interface ConnectSpec {
  publicUrl: string;
  accountSid: string;
  greeting: string;
  voice: string;
  language: string;
  /** Tie the relay session to the call; Twilio echoes them in `setup.customParameters`. */
  parameters: Record<string, string>;
}

/** `<Connect><ConversationRelay>`: hands the call to this server's relay socket. */
export function connectTwiml(spec: ConnectSpec): string {
  const urls = publicUrls(spec.publicUrl, spec.accountSid);
  const response = new twilio.twiml.VoiceResponse();
  const relay = response.connect({ action: urls.relayAction }).conversationRelay({
    url: urls.relaySocket,
    ...(spec.greeting ? { welcomeGreeting: spec.greeting } : {}),
    ...(spec.voice && !OPENAI_VOICES.has(spec.voice.toLowerCase()) ? { voice: spec.voice } : {}),
    ...(spec.language ? { language: spec.language } : {}),
  });
  for (const [name, value] of Object.entries(spec.parameters)) relay.parameter({ name, value });
  return response.toString();
}

export function rejectTwiml(): string {
  const response = new twilio.twiml.VoiceResponse();
  response.reject({ reason: 'busy' });
  return response.toString();
}

export function dialTwiml(target: string): string {
  const response = new twilio.twiml.VoiceResponse();
  response.dial(target);
  return response.toString();
}

export function hangupTwiml(): string {
  const response = new twilio.twiml.VoiceResponse();
  response.hangup();
  return response.toString();
}

export function emptyTwiml(): string {
  return new twilio.twiml.VoiceResponse().toString();
}
