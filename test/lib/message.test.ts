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
