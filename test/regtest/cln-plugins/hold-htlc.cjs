#!/usr/bin/env node
/**
 * A Core Lightning plugin (test only) that holds incoming HTLCs: an HTLC whose payment
 * hash is a line of the file $LIGHTNING_DIR/hold-hashes is never answered (lightningd
 * keeps it, neither settled nor failed: the payer's payment stays pending); every other
 * HTLC continues as usual. It speaks the plugin protocol on stdin/stdout (JSON-RPC:
 * getmanifest, init, the htlc_accepted hook).
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');
let dir = '.';
let buf = '';
const send = (id, result) => process.stdout.write(JSON.stringify({ jsonrpc: '2.0', id, result }) + '\n\n');
function held(hash) {
  try {
    return fs.readFileSync(path.join(dir, 'hold-hashes'), 'utf8').split('\n').map((s) => s.trim()).includes(hash);
  } catch {
    return false;
  }
}
function handle(msg) {
  if (msg.method === 'getmanifest') return send(msg.id, { options: [], rpcmethods: [], hooks: [{ name: 'htlc_accepted' }], subscriptions: [], dynamic: true });
  if (msg.method === 'init') {
    dir = msg.params.configuration['lightning-dir'];
    return send(msg.id, {});
  }
  if (msg.method === 'htlc_accepted') {
    if (held(msg.params.htlc.payment_hash)) return; // never answered: the HTLC stays held
    return send(msg.id, { result: 'continue' });
  }
  if (msg.id !== undefined) process.stdout.write(JSON.stringify({ jsonrpc: '2.0', id: msg.id, error: { code: -32601, message: 'unknown method' } }) + '\n\n');
}
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => {
  buf += d;
  for (;;) {
    // lightningd separates requests by a blank line; a request itself has no raw newline pair.
    const end = buf.indexOf('\n\n');
    if (end < 0) break;
    const text = buf.slice(0, end).trim();
    buf = buf.slice(end + 2);
    if (text) handle(JSON.parse(text));
  }
});
process.stdin.on('end', () => process.exit(0));
