/**
 * Real audio for the voice tests: speech made by espeak-ng, brought to 8 kHz G.711 by sox, laid
 * out as RTP in a pcap SIPp can play (`play_pcap_audio`), and measured with `sox stat`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeG711, type G711Law } from '../../src/media/g711.js';

export interface Speech {
  /** G.711 samples, 8 kHz, speech then the trailing silence. */
  audio: Buffer;
  pcap: string;
  /** 20 ms frames whose RMS is above `rms` (the stand-in's speech threshold), ms. */
  loudMs(rms: number): number;
}

const SOX_ENCODING: Record<G711Law, string> = { PCMU: 'u-law', PCMA: 'a-law' };
const PAYLOAD_TYPE: Record<G711Law, number> = { PCMU: 0, PCMA: 8 };

/** Speaks `text`, then `silenceS` of silence, as a pcap of 20 ms RTP packets in `law`. */
export function makeSpeech(dir: string, text: string, law: G711Law, silenceS = 1.5): Speech {
  const wav = join(dir, 'speech.wav');
  const raw = join(dir, 'speech.g711');
  execFileSync('espeak-ng', ['-v', 'en-us', '-w', wav, '--', text]);
  execFileSync('sox', [wav, '-r', '8000', '-c', '1', '-e', SOX_ENCODING[law], '-t', 'raw', raw, 'pad', '0', String(silenceS)]);
  const audio = readFileSync(raw);
  const pcap = join(dir, 'speech.pcap');
  writeFileSync(pcap, rtpPcap(audio, PAYLOAD_TYPE[law]));
  return {
    audio, pcap,
    loudMs(rms) {
      const pcm = decodeG711(law, audio);
      let loud = 0;
      for (let i = 0; i + 160 <= pcm.length; i += 160) {
        let sq = 0;
        for (let j = i; j < i + 160; j++) sq += pcm[j]! * pcm[j]!;
        if (Math.sqrt(sq / 160) > rms) loud += 20;
      }
      return loud;
    },
  };
}

/** A pcap (Ethernet, IPv4, UDP) of RTP packets carrying `audio` 160 bytes at a time, 20 ms apart. */
export function rtpPcap(audio: Buffer, payloadType: number): Buffer {
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(65535, 16);
  header.writeUInt32LE(1, 20); // Ethernet
  const packets: Buffer[] = [header];
  for (let i = 0, n = 0; i < audio.length; i += 160, n++) {
    const payload = Buffer.alloc(160, audio[audio.length - 1]);
    audio.copy(payload, 0, i, Math.min(i + 160, audio.length));
    const rtp = Buffer.alloc(12);
    rtp[0] = 0x80;
    rtp[1] = payloadType | (n === 0 ? 0x80 : 0);
    rtp.writeUInt16BE(n & 0xffff, 2);
    rtp.writeUInt32BE(n * 160, 4);
    rtp.writeUInt32BE(0x5eed, 8);
    const udpLen = 8 + 12 + 160;
    const ip = Buffer.alloc(20);
    ip[0] = 0x45;
    ip.writeUInt16BE(20 + udpLen, 2);
    ip[8] = 64;
    ip[9] = 17;
    ip.writeUInt32BE(0x7f000001, 12);
    ip.writeUInt32BE(0x7f000001, 16);
    let sum = 0;
    for (let k = 0; k < 20; k += 2) sum += ip.readUInt16BE(k);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    ip.writeUInt16BE(~sum & 0xffff, 10);
    const udp = Buffer.alloc(8);
    udp.writeUInt16BE(6000, 0);
    udp.writeUInt16BE(6000, 2);
    udp.writeUInt16BE(udpLen, 4);
    const eth = Buffer.alloc(14);
    eth.writeUInt16BE(0x0800, 12);
    const frame = Buffer.concat([eth, ip, udp, rtp, payload]);
    const rec = Buffer.alloc(16);
    const us = n * 20_000;
    rec.writeUInt32LE(1_700_000_000 + Math.floor(us / 1e6), 0);
    rec.writeUInt32LE(us % 1e6, 4);
    rec.writeUInt32LE(frame.length, 8);
    rec.writeUInt32LE(frame.length, 12);
    packets.push(rec, frame);
  }
  return Buffer.concat(packets);
}

export interface SoxStat {
  seconds: number;
  rms: number;
  /** sox's rough frequency estimate, Hz. */
  frequency: number;
}

/** `sox stat` of raw 8 kHz G.711 audio; RMS on the 16-bit scale. */
export function soxStat(dir: string, audio: Buffer, law: G711Law): SoxStat {
  const path = join(dir, `measure-${Date.now()}.g711`);
  writeFileSync(path, audio);
  // sox writes its statistics to stderr.
  const run = spawnSync('sox', ['-t', 'raw', '-r', '8000', '-c', '1', '-e', SOX_ENCODING[law], path, '-n', 'stat'], { encoding: 'utf8' });
  rmSync(path, { force: true });
  const text = run.stderr;
  const num = (label: string) => Number(new RegExp(`${label}:\\s+(-?[0-9.]+)`).exec(text)?.[1] ?? NaN);
  return { seconds: num('Length \\(seconds\\)'), rms: num('RMS\\s+amplitude') * 32768, frequency: num('Rough\\s+frequency') };
}

/** RMS of one PCMA packet's audio (the voice tests' calls are A-law). */
export const rmsOf = (payload: Buffer): number => {
  const pcm = decodeG711('PCMA', payload);
  return Math.sqrt(pcm.reduce((a, v) => a + v * v, 0) / pcm.length);
};

/** The q-quantile (0..1) of `values`. */
export function percentile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * q))]!;
}
