/** Drives registrations through the HTTP API of a test server and waits on what it reports. */
import assert from 'node:assert/strict';
import type { Config } from '../../src/config.js';
import type { TestServer } from '../helpers/server.js';
import { waitFor } from './peers.js';

/** Engine and SIP timing small enough that failures and retries happen within a test. */
export function fastSip(c: Config): void {
  c.sip.t1Ms = 20; // a REGISTER nobody answers gives up after 64·T1 = 1.3 s
  Object.assign(c.registration, {
    registersPerSecond: 200,
    failuresBeforeFailedState: 3,
    maxAttemptsBeforeGivingUp: 10,
    backoffBaseMs: 200,
    backoffMaxMs: 1_000,
    deregisterOnShutdown: true,
    leaseMs: 900, // a second instance takes over a line within a second of the holder going away
  });
}

export interface Line {
  id: string;
  get(): Promise<Record<string, any>>;
  activate(): Promise<void>;
  disable(): Promise<void>;
  remove(): Promise<void>;
  waitFor(what: string, pred: (r: Record<string, any>) => boolean, timeoutMs?: number): Promise<Record<string, any>>;
}

export async function createLine(ts: TestServer, key: string, body: Record<string, unknown>): Promise<Line> {
  const res = await ts.request('POST', '/phone-endpoints', { key, body: { type: 'phone-registration', ...body } });
  assert.equal(res.status, 201, res.text);
  const id = res.body.id as string;
  const line: Line = {
    id,
    async get() {
      const r = await ts.request('GET', `/phone-endpoints/${id}`, { key });
      assert.equal(r.status, 200, r.text);
      return r.body;
    },
    async activate() {
      const r = await ts.request('POST', `/phone-endpoints/${id}/activate`, { key });
      assert.equal(r.status, 200, r.text);
    },
    async disable() {
      const r = await ts.request('POST', `/phone-endpoints/${id}/disable`, { key });
      assert.equal(r.status, 200, r.text);
    },
    async remove() {
      const r = await ts.request('DELETE', `/phone-endpoints/${id}`, { key });
      assert.equal(r.status, 200, r.text);
    },
    async waitFor(what, pred, timeoutMs = 15_000) {
      let last: Record<string, any> = {};
      try {
        return await waitFor(`registration ${what}`, async () => {
          last = await line.get();
          return pred(last) ? last : null;
        }, timeoutMs, 50);
      } catch (err) {
        throw new Error(`${(err as Error).message}; last seen: ${JSON.stringify({ status: last.status, state: last.state, error: last.error })}`);
      }
    },
  };
  return line;
}

/** An AI agent answering a line registered at `registrar` (handler `dialtone`), with the given speech engine. */
export async function voiceAgentOnLine(ts: TestServer, key: string, o: { registrar: string; username: string; password: string; voice: string; engine: string }): Promise<{ agentId: string; line: Line }> {
  const made = await ts.request('POST', '/api/agents', { key, body: { name: 'Luigi', type: 'inbound', system_prompt: 'You take table bookings for Luigi\'s.', voice: o.voice, voice_engine: o.engine } });
  assert.equal(made.status, 201, made.text);
  const line = await createLine(ts, key, { registrar: o.registrar, username: o.username, password: o.password, handler: 'dialtone' });
  await line.activate();
  await line.waitFor('registered', (r) => r.state === 'registered');
  const listen = await ts.request('POST', `/agents/${made.body.id}/listen`, { key, body: { id: line.id } });
  assert.equal(listen.status, 200, listen.text);
  return { agentId: made.body.id, line };
}
