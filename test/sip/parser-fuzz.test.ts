/**
 * Property: mutated messages (byte flips, truncation, duplicated / dropped lines,
 * injected delimiters) either parse into a usable message or throw SipParseError —
 * never any other exception, never a hang.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { SipParseError } from '../../src/sip/errors.js';
import { SipRequest, SipResponse } from '../../src/sip/message.js';
import { parseMessage, StreamFramer } from '../../src/sip/parser.js';
import { INVALID, PLAIN_401, PLAIN_REGISTER, VALID } from '../fixtures/sip/torture.js';

const SEEDS: Buffer[] = [...VALID.map((f) => f.raw), PLAIN_REGISTER, PLAIN_401, ...INVALID.slice(0, 4).map((f) => f.raw)];
const SPECIAL = [',', ';', '"', '<', '>', ':', '\r\n', '\r\n ', ' ', '%', '\\', '=', '@', '[', ']', '\x00', '\xff', '/'];

type Mutation =
  | { op: 'flip'; at: number; byte: number }
  | { op: 'truncate'; at: number }
  | { op: 'dupLine'; line: number }
  | { op: 'dropLine'; line: number }
  | { op: 'swapLines'; a: number; b: number }
  | { op: 'insert'; at: number; text: string };

const ratio = fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true });
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: ratio, byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: ratio }),
  fc.record({ op: fc.constant('dupLine' as const), line: fc.nat(80) }),
  fc.record({ op: fc.constant('dropLine' as const), line: fc.nat(80) }),
  fc.record({ op: fc.constant('swapLines' as const), a: fc.nat(80), b: fc.nat(80) }),
  fc.record({ op: fc.constant('insert' as const), at: ratio, text: fc.constantFrom(...SPECIAL) }),
) as fc.Arbitrary<Mutation>;

function mutate(input: Buffer, muts: Mutation[]): Buffer {
  let buf = Buffer.from(input);
  for (const m of muts) {
    const pos = (r: number): number => Math.floor(r * (buf.length + 1));
    switch (m.op) {
      case 'flip': {
        if (buf.length) buf[Math.min(pos(m.at), buf.length - 1)] = m.byte;
        break;
      }
      case 'truncate':
        buf = buf.subarray(0, pos(m.at));
        break;
      case 'insert': {
        const p = pos(m.at);
        buf = Buffer.concat([buf.subarray(0, p), Buffer.from(m.text, 'latin1'), buf.subarray(p)]);
        break;
      }
      default: {
        const lines = buf.toString('latin1').split('\r\n');
        const i = (n: number): number => n % lines.length;
        if (m.op === 'dupLine') lines.splice(i(m.line), 0, lines[i(m.line)]!);
        else if (m.op === 'dropLine') lines.splice(i(m.line), 1);
        else [lines[i(m.a)], lines[i(m.b)]] = [lines[i(m.b)]!, lines[i(m.a)]!];
        buf = Buffer.from(lines.join('\r\n'), 'latin1');
      }
    }
  }
  return buf;
}

/** A successfully parsed message must be fully usable: accessors work and it re-serialises parseably. */
function exercise(msg: SipRequest | SipResponse): void {
  void msg.vias;
  void msg.from;
  void msg.to;
  void msg.cseq;
  const again = parseMessage(msg.serialize());
  assert.equal(again.startLine(), msg.startLine());
}

describe('parser robustness', () => {
  it('2,000 mutations of valid messages only ever throw SipParseError', () => {
    let parsed = 0;
    let rejected = 0;
    fc.assert(
      fc.property(fc.nat(SEEDS.length - 1), fc.array(mutation, { minLength: 1, maxLength: 6 }), (seed, muts) => {
        const input = mutate(SEEDS[seed]!, muts);
        const started = performance.now();
        try {
          exercise(parseMessage(input));
          parsed++;
        } catch (err) {
          if (!(err instanceof SipParseError)) throw err;
          rejected++;
        }
        assert.ok(performance.now() - started < 1000, 'parse took too long');
      }),
      { numRuns: 2000, seed: 4475, endOnFailure: true },
    );
    // Both outcomes must actually be exercised for the property to mean something.
    assert.ok(parsed > 50, `parsed ${parsed}`);
    assert.ok(rejected > 50, `rejected ${rejected}`);
  });

  it('the stream framer never throws anything but SipParseError on mutated streams', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(SEEDS.length - 1), fc.array(mutation, { maxLength: 3 })), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 1, max: 700 }),
        (parts, chunkSize) => {
          const stream = Buffer.concat(parts.map(([s, m]) => mutate(SEEDS[s]!, m)));
          const framer = new StreamFramer({ maxMessageSize: 8192 });
          try {
            for (let i = 0; i < stream.length; i += chunkSize) {
              for (const ev of framer.push(stream.subarray(i, i + chunkSize))) {
                if (ev.type === 'message') exercise(ev.message);
                if (ev.type === 'malformed') assert.ok(ev.error instanceof SipParseError);
              }
            }
          } catch (err) {
            if (!(err instanceof SipParseError)) throw err;
          }
        },
      ),
      { numRuns: 300, seed: 5626, endOnFailure: true },
    );
  });

  it('random bytes are rejected cleanly', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        try {
          parseMessage(Buffer.from(bytes));
        } catch (err) {
          if (!(err instanceof SipParseError)) throw err;
        }
      }),
      { numRuns: 300, seed: 3261 },
    );
  });
});
