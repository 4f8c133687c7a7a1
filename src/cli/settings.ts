/**
 * Where the CLI finds the server and the key: flags, then the environment (DIALTONE_URL,
 * DIALTONE_API_KEY, DIALTONE_ACCOUNT_ID), then a profile in the profile file
 * (DIALTONE_PROFILE_FILE, else $XDG_CONFIG_HOME/dialtone/profile.json, else
 * ~/.config/dialtone/profile.json): `{"default": {"url": …, "apiKey": …, "accountId": …}, "prod": {…}}`.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { UsageError, flag, type Parsed } from './args.js';

export interface Profile { url?: string; apiKey?: string; accountId?: string }
export interface Settings { url: string; apiKey: string | null; accountId: string | null; profileName: string; profileFile: string }

export function profileFile(env: NodeJS.ProcessEnv): string {
  if (env.DIALTONE_PROFILE_FILE) return env.DIALTONE_PROFILE_FILE;
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return join(base, 'dialtone', 'profile.json');
}

export function readProfiles(file: string): Record<string, Profile> {
  if (!existsSync(file)) return {};
  let parsed: unknown;
  try { parsed = JSON.parse(readFileSync(file, 'utf8')); } catch { throw new UsageError(`${file} is not valid JSON`); }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new UsageError(`${file} must hold an object of profiles`);
  return parsed as Record<string, Profile>;
}

/** Saves one profile, readable by the owner only: it holds a key. */
export function saveProfile(file: string, name: string, profile: Profile): void {
  const all = readProfiles(file);
  all[name] = { ...all[name], ...profile };
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, `${JSON.stringify(all, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
}

export function resolveSettings(p: Parsed, env: NodeJS.ProcessEnv): Settings {
  const file = profileFile(env);
  const name = flag(p, 'profile') ?? env.DIALTONE_PROFILE ?? 'default';
  const profiles = readProfiles(file);
  const profile = profiles[name];
  if (!profile && (flag(p, 'profile') || env.DIALTONE_PROFILE)) throw new UsageError(`no profile "${name}" in ${file}`);
  const url = flag(p, 'url') ?? env.DIALTONE_URL ?? profile?.url ?? 'http://localhost:8080';
  if (!/^https?:\/\/[^/\s]+/i.test(url)) throw new UsageError(`the server URL must be http(s)://host[:port], got "${url}"`);
  return {
    url: url.replace(/\/+$/, ''),
    apiKey: flag(p, 'api-key') ?? env.DIALTONE_API_KEY ?? profile?.apiKey ?? null,
    accountId: flag(p, 'account') ?? env.DIALTONE_ACCOUNT_ID ?? profile?.accountId ?? null,
    profileName: name,
    profileFile: file,
  };
}
