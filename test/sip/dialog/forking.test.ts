/** Forking: several 2xx with different To tags for one INVITE. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SipRequest } from '../../../src/sip/message.js';
import { parseMessage } from '../../../src/sip/parser.js';
import { rawResponse, sleep, waitFor } from '../helpers.js';
import { layer, peer } from './helpers.js';

describe('forked INVITE', () => {
  it('keeps the first 2xx as the dialog and ACKs then BYEs every other one', async () => {
    const a = await layer();
    const p = await peer();
    let answered = false;
    p.onMessage = (text) => {
      if (text.startsWith('INVITE ') && !answered) {
        answered = true;
        const ok = rawResponse(text, '200 OK', [`Contact: <sip:bob@127.0.0.1:${p.port}>`]);
        p.send(ok.replace(';tag=peer', ';tag=fork1'), a.port);
        p.send(ok.replace(';tag=peer', ';tag=fork2'), a.port);
        p.send(ok.replace(';tag=peer', ';tag=fork3'), a.port);
      }
      if (text.startsWith('BYE ')) p.send(rawResponse(text, '200 OK'), a.port);
    };
    const { dialog } = await a.layer.invite({ uri: `sip:bob@127.0.0.1:${p.port}`, from: '<sip:alice@127.0.0.1>', to: '<sip:bob@127.0.0.1>' }).outcome;
    assert.ok(dialog);
    assert.equal(dialog.remoteTag, 'fork1');
    await waitFor(() => p.received.filter((m) => m.text.startsWith('BYE ')).length === 2, 2000, 'two BYEs');
    await sleep(30);
    const reqs = p.received.map((m) => parseMessage(Buffer.from(m.text))).filter((m): m is SipRequest => 'method' in m);
    const tagsOf = (method: string) => reqs.filter((r) => r.method === method).map((r) => r.to.params.get('tag')).sort();
    assert.deepEqual(tagsOf('ACK'), ['fork1', 'fork2', 'fork3']);
    assert.deepEqual(tagsOf('BYE'), ['fork2', 'fork3']);
    for (const tag of ['fork2', 'fork3']) {
      const i = reqs.findIndex((r) => r.method === 'ACK' && r.to.params.get('tag') === tag);
      const j = reqs.findIndex((r) => r.method === 'BYE' && r.to.params.get('tag') === tag);
      assert.ok(i < j, `ACK before BYE for ${tag}`);
    }
    assert.equal(a.layer.size, 1);
    assert.equal(dialog.isTerminated, false);
  });
});
