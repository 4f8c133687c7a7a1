/**
 * The ConversationRelay message schema, both directions. Incoming messages are parsed into a
 * typed union (unknown or malformed ones become `null`); outgoing ones are only made through the
 * builders below, each of which checks its fields, because Twilio drops a malformed message and
 * hangs up after ten of them.
 */

export interface SetupMessage {
  type: 'setup';
  sessionId: string;
  callSid: string;
  accountSid: string;
  from: string;
  to: string;
  direction: string;
  customParameters: Record<string, string>;
}
export interface PromptMessage { type: 'prompt'; voicePrompt: string; lang: string; last: boolean }
export interface InterruptMessage { type: 'interrupt'; utteranceUntilInterrupt: string; durationUntilInterruptMs: number }
export interface DtmfMessage { type: 'dtmf'; digit: string }
export interface ErrorMessage { type: 'error'; description: string }
export interface InfoMessage { type: 'info'; name?: string; value?: unknown }

export type IncomingMessage = SetupMessage | PromptMessage | InterruptMessage | DtmfMessage | ErrorMessage | InfoMessage;

const str = (v: unknown, fallback = ''): string => (typeof v === 'string' ? v : fallback);

/** Parses one frame from Twilio; anything that is not a known, well-formed message is `null`. */
export function parseIncoming(raw: string): IncomingMessage | null {
  let m: Record<string, unknown>;
  try {
    const v: unknown = JSON.parse(raw);
    if (!v || typeof v !== 'object' || Array.isArray(v)) return null;
    m = v as Record<string, unknown>;
  } catch {
    return null;
  }
  switch (m.type) {
    case 'setup': {
      if (typeof m.callSid !== 'string' || !m.callSid) return null;
      const params: Record<string, string> = {};
      if (m.customParameters && typeof m.customParameters === 'object') {
        for (const [k, v] of Object.entries(m.customParameters as Record<string, unknown>)) params[k] = String(v);
      }
      return {
        type: 'setup', sessionId: str(m.sessionId), callSid: m.callSid, accountSid: str(m.accountSid),
        from: str(m.from), to: str(m.to), direction: str(m.direction), customParameters: params,
      };
    }
    case 'prompt':
      if (typeof m.voicePrompt !== 'string') return null;
      return { type: 'prompt', voicePrompt: m.voicePrompt, lang: str(m.lang), last: m.last !== false };
    case 'interrupt':
      return {
        type: 'interrupt', utteranceUntilInterrupt: str(m.utteranceUntilInterrupt),
        durationUntilInterruptMs: typeof m.durationUntilInterruptMs === 'number' ? m.durationUntilInterruptMs : 0,
      };
    case 'dtmf':
      if (typeof m.digit !== 'string') return null;
      return { type: 'dtmf', digit: m.digit };
    case 'error':
      return { type: 'error', description: str(m.description) };
    case 'info':
      return { type: 'info', name: typeof m.name === 'string' ? m.name : undefined, value: m.value };
    default:
      return null;
  }
}

// Outgoing messages.

export type Interruptible = 'none' | 'dtmf' | 'speech' | 'any' | boolean;

export interface TextMessage { type: 'text'; token: string; last: boolean; lang?: string; interruptible?: Interruptible; preemptible?: boolean }
export interface PlayMessage { type: 'play'; source: string; loop?: number; preemptible?: boolean; interruptible?: Interruptible }
export interface SendDigitsMessage { type: 'sendDigits'; digits: string }
export interface LanguageMessage { type: 'language'; ttsLanguage?: string; transcriptionLanguage?: string }
export interface EndMessage { type: 'end'; handoffData?: string }

export type OutgoingMessage = TextMessage | PlayMessage | SendDigitsMessage | LanguageMessage | EndMessage;

export class MalformedMessage extends Error {}

const INTERRUPTIBLE = new Set<unknown>(['none', 'dtmf', 'speech', 'any', true, false]);
/** DTMF Twilio can play: digits, * and #, and `w` for a half-second pause. */
export const DIGITS = /^[0-9*#w]{1,32}$/;

function check(ok: boolean, what: string): void {
  if (!ok) throw new MalformedMessage(what);
}

/** Typed builders: the only way the relay session makes a message, each validated on the way out. */
export const outgoing = {
  text(token: string, last: boolean, opts: { lang?: string; interruptible?: Interruptible; preemptible?: boolean } = {}): TextMessage {
    check(typeof token === 'string', 'text.token must be a string');
    check(typeof last === 'boolean', 'text.last must be a boolean');
    check(opts.interruptible === undefined || INTERRUPTIBLE.has(opts.interruptible), 'text.interruptible is invalid');
    check(opts.lang === undefined || /^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$/.test(opts.lang), 'text.lang must be a language tag');
    const m: TextMessage = { type: 'text', token, last };
    if (opts.lang !== undefined) m.lang = opts.lang;
    if (opts.interruptible !== undefined) m.interruptible = opts.interruptible;
    if (opts.preemptible !== undefined) m.preemptible = opts.preemptible;
    return m;
  },
  play(source: string, opts: { loop?: number; preemptible?: boolean; interruptible?: Interruptible } = {}): PlayMessage {
    check(/^https?:\/\/\S+$/.test(source), 'play.source must be an http(s) URL');
    check(opts.loop === undefined || (Number.isInteger(opts.loop) && opts.loop >= 0), 'play.loop must be a non-negative integer');
    check(opts.interruptible === undefined || INTERRUPTIBLE.has(opts.interruptible), 'play.interruptible is invalid');
    const m: PlayMessage = { type: 'play', source };
    if (opts.loop !== undefined) m.loop = opts.loop;
    if (opts.preemptible !== undefined) m.preemptible = opts.preemptible;
    if (opts.interruptible !== undefined) m.interruptible = opts.interruptible;
    return m;
  },
  sendDigits(digits: string): SendDigitsMessage {
    check(DIGITS.test(digits), 'sendDigits.digits must be 1-32 of 0-9 * # w');
    return { type: 'sendDigits', digits };
  },
  language(ttsLanguage?: string, transcriptionLanguage?: string): LanguageMessage {
    check(ttsLanguage !== undefined || transcriptionLanguage !== undefined, 'language needs ttsLanguage or transcriptionLanguage');
    const m: LanguageMessage = { type: 'language' };
    if (ttsLanguage !== undefined) m.ttsLanguage = ttsLanguage;
    if (transcriptionLanguage !== undefined) m.transcriptionLanguage = transcriptionLanguage;
    return m;
  },
  end(handoff?: Record<string, unknown>): EndMessage {
    return handoff === undefined ? { type: 'end' } : { type: 'end', handoffData: JSON.stringify(handoff) };
  },
};
