import { describe, it, expect } from 'vitest';
import { Type } from '@sinclair/typebox';
import { decodeMessage, messageSchema, Sats } from '../../src/lib/message.ts';
import { resolveNetwork } from '../../src/lib/network.ts';
import { decodeAddress } from '../../src/lib/address.ts';
import { OffchainError } from '../../src/lib/errors.ts';

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
    [{ ...ok, extra: true }, 'E_MALFORMED_MESSAGE', /./],
    [[1, 2], 'E_MALFORMED_MESSAGE', /object/],
  ])('refuses %j with %s', (value, code, text) => {
    let err: unknown;
    try {
      decodeMessage(Demo, value);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OffchainError);
    expect((err as OffchainError).code).toBe(code);
    expect((err as OffchainError).exitCode).toBe(3);
    expect((err as Error).message).toMatch(text);
  });
});

describe('networks', () => {
  it('flag and message must agree; regtest by default', () => {
    expect(resolveNetwork(undefined, undefined)).toBe('regtest');
    expect(resolveNetwork('signet', undefined)).toBe('signet');
    expect(resolveNetwork(undefined, 'testnet4')).toBe('testnet4');
    expect(() => resolveNetwork('mainnet', 'regtest')).toThrow(/regtest/);
  });

  it('refuses an address of another network by name', () => {
    const mainnet = 'bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4';
    expect(decodeAddress(mainnet, 'mainnet')).toHaveLength(22);
    expect(() => decodeAddress(mainnet, 'regtest')).toThrow(/mainnet address, not regtest/);
    expect(() => decodeAddress('not-an-address', 'regtest')).toThrow(/not a valid regtest address/);
  });
});
