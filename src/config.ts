import { randomBytes } from 'node:crypto';
import { hostname, networkInterfaces } from 'node:os';
import { resolve } from 'node:path';
import { VOICE_ENGINES, type VoiceEngineKind } from './domain/voice-engine.js';

/** Everything the process reads from its environment, typed, with defaults that run on a laptop. */
export interface Config {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string | null;
  redisUrl: string | null;
  /** Prefix of every Redis key and channel Dialtone uses, so clusters sharing one Redis stay apart. */
  redisPrefix: string;
  /** This process's name among the instances sharing a database and Redis (INSTANCE_ID; default host-pid-random). */
  instanceId: string;
  /** Cluster mode (with REDIS_URL): how long a question to the other instances waits for the one holding a call, ms. */
  clusterAskTimeoutMs: number;
  /** Cluster mode: an instance that has not renewed its row for this long is gone and its live calls are ended, ms. */
  instanceLeaseMs: number;
  /** How often, in ms, events a failed publish left in the outbox are published again; 0 = only at start. */
  outboxReplayMs: number;
  adminApiKey: string | null;
  masterKey: string | null;
  publicUrl: string;
  sip: {
    port: number;
    host: string;
    publicHost: string;
    domain: string;
    allowPrivateTargets: boolean;
    /** PEM bundle trusted for outgoing SIP over TLS instead of the built-in CAs (private CA, tests). */
    tlsCaFile: string | null;
    /** Our own TLS listener: set only when both a certificate and its key are configured. */
    tls: { port: number; certFile: string; keyFile: string } | null;
    /** RFC 3261 T1 in ms (REGISTER gives up after 64·T1); 0 = the stack's default of 500 ms. */
    t1Ms: number;
    /** RFC 4028 session interval asked for and imposed on SIP calls, seconds. */
    sessionExpires: number;
    /** Accepted TCP/TLS connections open at once; 0 = no cap. */
    maxConnections: number;
    /** Ms an accepted TCP/TLS connection has to complete each message (the first counted from accept); 0 = none. */
    messageDeadlineMs: number;
    /** How long the nonce of a digest challenge to a number's caller can be answered, ms. */
    digestNonceTtlMs: number;
    /** New INVITEs are refused with 503 + Retry-After past these (see src/edge/overload.ts). */
    overload: { lagMs: number; busyPercent: number; maxSetups: number; retryAfterS: number };
  };
  /** RTP for calls Dialtone answers itself (handlers dialtone and relay). */
  media: {
    rtpPortMin: number;
    rtpPortMax: number;
    /** No RTP from the caller for this long hangs up, ms (0 = never). */
    timeoutMs: number;
  };
  /** SIP calls: how people are rung and how fast trunks are used. */
  calls: {
    /** `linear` ring method: how long each of a person's addresses rings before the next, ms. */
    linearRingTimeoutMs: number;
    /** Calls per second started through each trunk (a token bucket; 0 = unpaced). */
    trunkCps: number;
  };
  llm: { baseUrl: string | null; apiKey: string | null; model: string };
  /** Speech on calls Dialtone answers itself; the Realtime service is reached with `llm`'s base URL and key. */
  voice: {
    /** The engine of agents that name none. */
    engine: VoiceEngineKind;
    realtimeModel: string;
    /** What the Realtime service transcribes the caller with ('' = no caller transcripts). */
    transcribeModel: string;
    /** Server VAD: how loud (0–1) and how long a pause ends the caller's turn, ms. */
    vadThreshold: number;
    vadSilenceMs: number;
    /** The `pipeline` engine's services; null when not configured (speech is then not understood / spoken offline). */
    stt: SpeechService | null;
    tts: (SpeechService & { format: 'wav' | 'pcm' }) | null;
    /** The pipeline's energy VAD: RMS (16-bit scale) that starts speech, and the pause that ends a turn, ms. */
    pipelineVadRms: number;
    pipelineVadSilenceMs: number;
  };
  /** LiveKit SIP, the `livekit` call handler's destination; null when none of its settings is given. */
  livekit: LiveKitConfig | null;
  twilioApiBaseUrl: string;
  /** Said on an inbound call whose agent has no greeting; '' for silence. */
  defaultGreeting: string;
  logLevel: string;
  /**
   * Which peers may set the client address through X-Forwarded-For, as Fastify's `trustProxy`
   * takes it. Off by default: trusting every peer lets any client pick its own address.
   */
  trustProxy: boolean | number | string;
  /** Browser origins (`https://app.example.com`) allowed to call the API cross-origin; none by default. */
  corsOrigins: string[];
  rateLimit: { perHour: number; perMinute: number };
  /**
   * Who may read /metrics: with a token, requests bearing it; with a listen address, anyone who
   * reaches that address (plus the token, when both are set). Neither: metrics are not served.
   */
  metrics: { token: string | null; listen: { host: string; port: number } | null };
  /** Brute-force and flood limits beside the per-credential ones; see docs/decisions.md. */
  throttle: {
    /** Login attempts per username per 15 minutes, from any address. */
    loginsPerUsername: number;
    /** Requests per client address per minute whose credential fails (missing, unknown, expired). */
    badCredentialsPerMinute: number;
    /** Identities each in-memory limit tracks at once (without Redis); throttled ones are kept. */
    trackedKeys: number;
  };
  /** Registration engine tuning; see docs/decisions.md for why these numbers. */
  registration: {
    registersPerSecond: number;
    failuresBeforeFailedState: number;
    maxAttemptsBeforeGivingUp: number;
    backoffBaseMs: number;
    backoffMaxMs: number;
    deregisterOnShutdown: boolean;
    /** Instances sharing a database split the lines by row lease; this long without renewal frees a line. */
    leaseMs: number;
    /** This instance's lease name; default host:SIP port (random when the port is 0). */
    instanceId: string | null;
  };
}

export interface LiveKitConfig {
  /** The API server, e.g. `https://project.livekit.cloud` (`wss://` works too: the SDK rewrites it). */
  url: string;
  apiKey: string;
  apiSecret: string;
  /** Where the edge forwards calls, e.g. `sip:project.sip.livekit.cloud`. */
  sipUri: string;
}

const LIVEKIT_ENV = ['LIVEKIT_URL', 'LIVEKIT_API_KEY', 'LIVEKIT_API_SECRET', 'LIVEKIT_SIP_URI'] as const;

/** All four or none: with only some, calls would be accepted for a LiveKit nobody can reach. */
function liveKit(env: NodeJS.ProcessEnv): LiveKitConfig | null {
  const value = (name: (typeof LIVEKIT_ENV)[number]) => env[name]?.trim() ?? '';
  const missing = LIVEKIT_ENV.filter((name) => value(name) === '');
  if (missing.length === LIVEKIT_ENV.length) return null;
  if (missing.length) throw new Error(`LiveKit is partly configured: set ${missing.join(', ')} too, or none of ${LIVEKIT_ENV.join(', ')}`);
  const url = value('LIVEKIT_URL');
  if (!/^(https?|wss?):\/\/[^/\s]+/.test(url)) throw new Error(`LIVEKIT_URL must be an http(s):// or ws(s):// URL, got "${url}"`);
  const sipUri = value('LIVEKIT_SIP_URI');
  if (!/^sips?:[^\s@]+$/.test(sipUri)) throw new Error(`LIVEKIT_SIP_URI must be a sip: or sips: URI without a user, got "${sipUri}"`);
  return { url: url.replace(/\/+$/, ''), apiKey: value('LIVEKIT_API_KEY'), apiSecret: value('LIVEKIT_API_SECRET'), sipUri };
}

function firstExternalAddress(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const addr of list ?? []) {
      if (!addr.internal && addr.family === 'IPv4') return addr.address;
    }
  }
  return '127.0.0.1';
}

function int(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got "${value}"`);
  return n;
}

function rtpRange(env: NodeJS.ProcessEnv): Config['media'] {
  const rtpPortMin = int(env.RTP_PORT_MIN, 20000, 'RTP_PORT_MIN');
  const rtpPortMax = int(env.RTP_PORT_MAX, 29999, 'RTP_PORT_MAX');
  if (rtpPortMin < 1024 || rtpPortMax > 65535 || rtpPortMax <= rtpPortMin) {
    throw new Error(`RTP_PORT_MIN and RTP_PORT_MAX must make a range within 1024-65535, got ${rtpPortMin}-${rtpPortMax}`);
  }
  return { rtpPortMin, rtpPortMax, timeoutMs: int(env.MEDIA_TIMEOUT_SECONDS, 30, 'MEDIA_TIMEOUT_SECONDS') * 1000 };
}

/** An OpenAI-compatible audio endpoint (`/v1/audio/transcriptions` or `/v1/audio/speech`). */
export interface SpeechService {
  baseUrl: string | null;
  apiKey: string;
  model: string;
}

/**
 * STT_* / TTS_* name a service of their own (a whisper.cpp or speaches server needs no key);
 * without them, an OPENAI_API_KEY serves both through OPENAI_BASE_URL.
 */
function speechService(env: NodeJS.ProcessEnv, prefix: 'STT' | 'TTS', defaultModel: string): SpeechService | null {
  const baseUrl = env[`${prefix}_BASE_URL`] || null;
  const apiKey = env[`${prefix}_API_KEY`] || (baseUrl ? null : env.OPENAI_API_KEY) || null;
  if (!baseUrl && !apiKey) return null;
  return { baseUrl: baseUrl ?? (env.OPENAI_BASE_URL || null), apiKey: apiKey ?? 'none', model: env[`${prefix}_MODEL`] || defaultModel };
}

function voiceSettings(env: NodeJS.ProcessEnv): Config['voice'] {
  const engine = env.VOICE_ENGINE || 'offline';
  if (!(VOICE_ENGINES as readonly string[]).includes(engine)) throw new Error(`VOICE_ENGINE must be one of ${VOICE_ENGINES.join(', ')}, got "${engine}"`);
  if (engine === 'realtime' && !env.OPENAI_API_KEY) throw new Error('VOICE_ENGINE=realtime needs OPENAI_API_KEY (and OPENAI_BASE_URL for a server other than OpenAI)');
  const threshold = env.REALTIME_VAD_THRESHOLD ? Number(env.REALTIME_VAD_THRESHOLD) : 0.5;
  if (!(threshold > 0 && threshold < 1)) throw new Error(`REALTIME_VAD_THRESHOLD must be between 0 and 1, got "${env.REALTIME_VAD_THRESHOLD}"`);
  const tts = speechService(env, 'TTS', 'gpt-4o-mini-tts');
  const format = env.TTS_FORMAT || 'wav';
  if (format !== 'wav' && format !== 'pcm') throw new Error(`TTS_FORMAT must be wav or pcm, got "${format}"`);
  return {
    engine: engine as VoiceEngineKind,
    realtimeModel: env.OPENAI_REALTIME_MODEL || 'gpt-realtime',
    transcribeModel: env.OPENAI_TRANSCRIBE_MODEL ?? 'gpt-4o-mini-transcribe',
    vadThreshold: threshold,
    vadSilenceMs: int(env.REALTIME_VAD_SILENCE_MS, 500, 'REALTIME_VAD_SILENCE_MS'),
    stt: speechService(env, 'STT', 'whisper-1'),
    tts: tts ? { ...tts, format } : null,
    pipelineVadRms: int(env.PIPELINE_VAD_RMS, 500, 'PIPELINE_VAD_RMS'),
    pipelineVadSilenceMs: int(env.PIPELINE_VAD_SILENCE_MS, 600, 'PIPELINE_VAD_SILENCE_MS'),
  };
}

function tlsListener(env: NodeJS.ProcessEnv): Config['sip']['tls'] {
  const certFile = env.SIP_TLS_CERT_FILE || null;
  const keyFile = env.SIP_TLS_KEY_FILE || null;
  if (!certFile && !keyFile) return null;
  if (!certFile || !keyFile) throw new Error('SIP_TLS_CERT_FILE and SIP_TLS_KEY_FILE must be set together');
  return { port: int(env.SIP_TLS_PORT, 5061, 'SIP_TLS_PORT'), certFile, keyFile };
}

/** `true`/`false`, a hop count, or comma-separated addresses and CIDRs. */
function trustProxy(value: string | undefined): Config['trustProxy'] {
  const v = value?.trim() ?? '';
  if (v === '' || v === 'false' || v === '0') return false;
  if (v === 'true') return true;
  if (/^\d+$/.test(v)) return Number(v);
  return v.split(',').map((a) => a.trim()).filter(Boolean).join(',');
}

/** Comma-separated origins, compared as browsers send them: scheme, host and port, no trailing slash. */
function corsOrigins(value: string | undefined): string[] {
  const list = (value ?? '').split(',').map((o) => o.trim().replace(/\/+$/, '')).filter(Boolean);
  for (const o of list) {
    if (!/^https?:\/\/[^/\s]+$/i.test(o)) throw new Error(`CORS_ORIGINS: ${o} is not an origin like https://app.example.com`);
  }
  return list.map((o) => o.toLowerCase());
}

/** `host:port`, `[v6]:port` or a bare port (all addresses). */
function listenAddress(value: string | undefined, name: string): { host: string; port: number } | null {
  const v = value?.trim() ?? '';
  if (!v) return null;
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(v) ?? /^()()(\d+)$/.exec(v);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`${name} must be host:port or a port, got "${v}"`);
  return { host: m[1] || m[2] || '0.0.0.0', port };
}

function metricsToken(value: string | undefined): string | null {
  const v = value?.trim() ?? '';
  if (!v) return null;
  if (v.length < 16) throw new Error('METRICS_TOKEN must be at least 16 characters');
  return v;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const port = int(env.PORT, 8080, 'PORT');
  return {
    port,
    host: env.HOST || '0.0.0.0',
    dataDir: resolve(env.DATA_DIR || './data'),
    databaseUrl: env.DATABASE_URL || null,
    redisUrl: env.REDIS_URL || null,
    redisPrefix: env.REDIS_PREFIX ?? 'dialtone:',
    instanceId: env.INSTANCE_ID || `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`,
    clusterAskTimeoutMs: Math.max(1, int(env.CLUSTER_ASK_TIMEOUT_MS, 2_000, 'CLUSTER_ASK_TIMEOUT_MS')),
    instanceLeaseMs: Math.max(200, int(env.INSTANCE_LEASE_MS, 15_000, 'INSTANCE_LEASE_MS')),
    adminApiKey: env.ADMIN_API_KEY || null,
    masterKey: env.MASTER_KEY || null,
    publicUrl: (env.PUBLIC_URL || `http://localhost:${port}`).replace(/\/+$/, ''),
    sip: {
      port: int(env.SIP_PORT, 5060, 'SIP_PORT'),
      host: env.SIP_HOST || '0.0.0.0',
      publicHost: env.SIP_PUBLIC_HOST || firstExternalAddress(),
      domain: env.SIP_DOMAIN || 'sip.localhost',
      allowPrivateTargets: env.ALLOW_PRIVATE_SIP_TARGETS === '1' || env.ALLOW_PRIVATE_SIP_TARGETS === 'true',
      tlsCaFile: env.SIP_TLS_CA_FILE || null,
      tls: tlsListener(env),
      t1Ms: int(env.SIP_T1_MS, 0, 'SIP_T1_MS'),
      sessionExpires: Math.max(90, int(env.SIP_SESSION_EXPIRES, 1800, 'SIP_SESSION_EXPIRES')),
      maxConnections: int(env.SIP_MAX_CONNECTIONS, 1024, 'SIP_MAX_CONNECTIONS'),
      messageDeadlineMs: int(env.SIP_MESSAGE_DEADLINE_MS, 10_000, 'SIP_MESSAGE_DEADLINE_MS'),
      digestNonceTtlMs: Math.max(1, int(env.SIP_DIGEST_NONCE_TTL_S, 60, 'SIP_DIGEST_NONCE_TTL_S')) * 1000,
      overload: {
        lagMs: int(env.SIP_OVERLOAD_LAG_MS, 40, 'SIP_OVERLOAD_LAG_MS'),
        busyPercent: Math.min(100, int(env.SIP_OVERLOAD_BUSY_PERCENT, 95, 'SIP_OVERLOAD_BUSY_PERCENT')),
        maxSetups: int(env.SIP_OVERLOAD_MAX_SETUPS, 200, 'SIP_OVERLOAD_MAX_SETUPS'),
        retryAfterS: Math.max(1, int(env.SIP_OVERLOAD_RETRY_AFTER_S, 5, 'SIP_OVERLOAD_RETRY_AFTER_S')),
      },
    },
    media: rtpRange(env),
    calls: {
      linearRingTimeoutMs: int(env.RING_TIMEOUT_SECONDS, 20, 'RING_TIMEOUT_SECONDS') * 1000,
      trunkCps: int(env.TRUNK_CPS, 1, 'TRUNK_CPS'),
    },
    llm: {
      baseUrl: env.OPENAI_BASE_URL || null,
      apiKey: env.OPENAI_API_KEY || null,
      model: env.LLM_MODEL || 'gpt-4o-mini',
    },
    voice: voiceSettings(env),
    livekit: liveKit(env),
    twilioApiBaseUrl: (env.TWILIO_API_BASE_URL || 'https://api.twilio.com').replace(/\/+$/, ''),
    // Set but empty means no greeting, so `??` and not `||`.
    defaultGreeting: (env.DEFAULT_GREETING ?? 'Hello, you are through to an automated assistant.').trim().slice(0, 2_000),
    logLevel: env.LOG_LEVEL || 'info',
    outboxReplayMs: int(env.OUTBOX_REPLAY_MS, 5000, 'OUTBOX_REPLAY_MS'),
    trustProxy: trustProxy(env.TRUST_PROXY),
    corsOrigins: corsOrigins(env.CORS_ORIGINS),
    metrics: { token: metricsToken(env.METRICS_TOKEN), listen: listenAddress(env.METRICS_LISTEN, 'METRICS_LISTEN') },
    rateLimit: {
      perHour: int(env.RATE_LIMIT_PER_HOUR, 1000, 'RATE_LIMIT_PER_HOUR'),
      perMinute: int(env.RATE_LIMIT_PER_MINUTE, 50, 'RATE_LIMIT_PER_MINUTE'),
    },
    throttle: {
      loginsPerUsername: int(env.LOGIN_ATTEMPTS_PER_USERNAME, 10, 'LOGIN_ATTEMPTS_PER_USERNAME'),
      badCredentialsPerMinute: int(env.BAD_CREDENTIALS_PER_MINUTE, 30, 'BAD_CREDENTIALS_PER_MINUTE'),
      trackedKeys: Math.max(1, int(env.RATE_LIMIT_TRACKED_KEYS, 50_000, 'RATE_LIMIT_TRACKED_KEYS')),
    },
    registration: {
      registersPerSecond: int(env.REGISTER_RATE, 200, 'REGISTER_RATE'),
      failuresBeforeFailedState: int(env.REGISTER_FAILURES_BEFORE_FAILED, 3, 'REGISTER_FAILURES_BEFORE_FAILED'),
      maxAttemptsBeforeGivingUp: int(env.REGISTER_MAX_ATTEMPTS, 10, 'REGISTER_MAX_ATTEMPTS'),
      backoffBaseMs: int(env.REGISTER_BACKOFF_BASE_MS, 5_000, 'REGISTER_BACKOFF_BASE_MS'),
      backoffMaxMs: int(env.REGISTER_BACKOFF_MAX_MS, 30 * 60_000, 'REGISTER_BACKOFF_MAX_MS'),
      deregisterOnShutdown: env.DEREGISTER_ON_SHUTDOWN !== '0',
      leaseMs: int(env.REGISTRATION_LEASE_MS, 60_000, 'REGISTRATION_LEASE_MS'),
      instanceId: env.DIALTONE_INSTANCE_ID || env.INSTANCE_ID || null,
    },
  };
}
