import { describe, it, expect } from 'vitest';
import { Type } from '@sinclair/typebox';
import { decodeMessage, messageSchema, Sats } from '../../src/lib/message.ts';
import { resolveNetwork } from '../../src/lib/network.ts';
import { decodeAddress } from '../../src/lib/address.ts';
import { refusal } from '../setup/refusal.ts';

const Demo = messageSchema('demo/thing', 'a test message', { amount_sat: Sats('an amount'), note: Type.Optional(Type.String()) });

describe('message envelope and schema', () => {
  const ok = { type: 'demo/thing', version: 1, network: 'regtest', amount_sat: 5 };

  it('accepts a valid message', () => {
    expect(decodeMessage(Demo, ok)).toEqual(ok);
  });

  it.each([
    [{ ...ok, type: 'demo/other' }, 'E_WRONG_MESSAGE', /expected a demo\/thing message, got demo\/other/],
    [{ ...ok, version: 2 }, 'E_MESSAGE_VERSION', /version 2/],
    [{ ...ok, network: 'moon' }, 'E_MALFORMED_MESSAGE', /network/],
    [{ ...ok, amount_sat: 1.5 }, 'E_MALFORMED_MESSAGE', /amount_sat/],
    [{ ...ok, amount_sat: -1 }, 'E_MALFORMED_MESSAGE', /amount_sat/],
    [{ ...ok, extra: true }, 'E_MALFORMED_MESSAGE', /^demo\/thing: extra: Unexpected property$/],
    [[1, 2], 'E_MALFORMED_MESSAGE', /^expected a JSON object message$/],
  ])('refuses %j with %s', (value, code, text) => {
    expect(refusal(() => decodeMessage(Demo, value), code, 3).message).toMatch(text);
  });
});

describe('arrays over their maxItems, refused before the schema is checked', () => {
  const Nested = messageSchema('demo/lists', 'a test message', {
    a: Type.Optional(Type.Array(Type.Integer(), { maxItems: 2 })),
    inner: Type.Optional(Type.Object({ b: Type.Array(Type.String(), { maxItems: 1 }), c: Type.Object({ d: Type.Array(Type.Integer(), { maxItems: 3 }) }) })),
  });
  const base = { type: 'demo/lists', version: 1, network: 'regtest' };
  it.each([
    [{ a: [1, 2, 3] }, /^demo\/lists: a: at most 2 items, got 3$/],
    [{ a: [1, 2, 3], inner: { b: ['x', 'y'] } }, /^demo\/lists: a: at most 2 items, got 3$/],
    [{ a: 'not an array', inner: { b: ['x', 'y'] } }, /^demo\/lists: inner\.b: at most 1 items, got 2$/],
    [{ inner: { b: [1], c: { d: [1, 2, 3, 4] } } }, /^demo\/lists: inner\.c\.d: at most 3 items, got 4$/],
    [{ inner: [{ b: [1, 2] }] }, /^demo\/lists: inner: Expected object$/],
    [{ inner: { c: null, b: ['x'] } }, /^demo\/lists: inner\.c: Expected object$/],
  ])('%j', (fields, text) => {
    // Past the decodes after which the check is compiled: the first refusals and the later ones are the same.
    for (let i = 0; i < 12; i++) expect(refusal(() => decodeMessage(Nested, { ...base, ...fields }), 'E_MALFORMED_MESSAGE', 3).message).toMatch(text);
  });
});

describe('networks', () => {
  it('flag and message must agree; regtest by default', () => {
    expect(resolveNetwork(undefined, undefined)).toBe('regtest');
    expect(resolveNetwork('signet', undefined)).toBe('signet');
    expect(resolveNetwork(undefined, 'testnet4')).toBe('testnet4');
    expect(refusal(() => resolveNetwork('mainnet', 'regtest'), 'E_NETWORK_MISMATCH', 4).message).toMatch(/the message is for regtest but --network is mainnet/);
  });

  it('refuses an address of another network by name', () => {
    const mainnet = 'bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4';
    expect(decodeAddress(mainnet, 'mainnet')).toHaveLength(22);
    expect(refusal(() => decodeAddress(mainnet, 'regtest'), 'E_NETWORK_MISMATCH', 4).message).toMatch(/mainnet address, not regtest/);
    expect(refusal(() => decodeAddress('not-an-address', 'regtest'), 'E_BAD_ADDRESS', 3).message).toMatch(/not a valid regtest address/);
  });
});
