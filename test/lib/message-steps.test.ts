/**
 * Every message says where it goes (issue 28 item 5): each registered message type of
 * the groups without a `next` field of their own (all but credit and statechain) has a
 * next step, and a message piped to the wrong command is refused naming it.
 */
import { describe, expect, it } from 'vitest';
import { MESSAGE_SCHEMAS } from '../../src/lib/schemas.ts';
import { NEXT_STEP } from '../../src/lib/message-steps.ts';
import { decodeMessage } from '../../src/lib/message.ts';
import { RouteRequestSchema } from '../../src/lib/route/schemas.ts';

const types = MESSAGE_SCHEMAS.map((s) => s.$id as string);
const ownNext = (t: string) => t.startsWith('credit/') || t.startsWith('statechain/');

describe('NEXT_STEP', () => {
  it('names a next step for every message type outside credit and statechain', () => {
    const missing = types.filter((t) => !ownNext(t) && !(t in NEXT_STEP));
    expect(missing).toEqual([]);
    expect(types.filter((t) => !ownNext(t)).length).toBeGreaterThan(40);
  });
  it('names no type that does not exist', () => {
    expect(Object.keys(NEXT_STEP).filter((t) => !types.includes(t))).toEqual([]);
  });
  it('a wrong message is refused naming where it belongs', () => {
    expect(() => decodeMessage(RouteRequestSchema, { type: 'onion/packet', version: 1, network: 'regtest' })).toThrow(
      'expected a route/request message, got onion/packet — an onion/packet is for the first hop: offchain onion-peel',
    );
  });
});
