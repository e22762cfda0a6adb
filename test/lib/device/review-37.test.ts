/**
 * Adversarial review of issue 37's fixes on the device side (one payment per hash per device,
 * finding 2): each test is one finding, written to fail on the code as reviewed and pass once
 * fixed. The attacker is a gateway (or two colluding ones) and the clock they can feed the
 * device; the device's channels are records of one state directory, passed to each step as
 * `others` as topics/device/command.ts deviceStep reads them under the directory's lock.
 */
import { describe, expect, it } from 'vitest';
import * as device from '../../../src/lib/device/device.ts';
import type { DeviceChannel } from '../../../src/lib/credit/ports.ts';
import { GATEWAY_TERMS, NOW, POLICY, channel, invoice, refusedWith } from './world.ts';

const DAY = 86_400;

describe('review 37: the daily limit is the device\'s, over all its channels, whatever the clock says', () => {
  it('a clock set back a day opens no fresh budget on another channel (channel A spent day D + 1\'s budget; channel B asked at day D)', async () => {
    const a = await channel({ input: 'a0', capacity: 1_000_000n });
    const b = await channel({ input: 'b0', capacity: 1_000_000n });
    const policy = { ...POLICY, max_payment_msat: 20_000_000, max_daily_msat: 30_000_000 };
    const pay = (ch: typeof a, d: DeviceChannel, k: number, now: number, others: DeviceChannel[]) =>
      device.pay(d, ch.deviceKey, { invoice: invoice(k, 20_000_000n, { timestamp: now - 10 }), policy, gateway: GATEWAY_TERMS, now, tip: ch.tip, others });
    // Day D + 1 (the device's clock, or a time source the gateway feeds it): 20 000 sat in flight on A.
    const onA = pay(a, a.device, 0, NOW + DAY, [b.device]).record;
    expect(onA.day).toEqual({ date: new Date((NOW + DAY) * 1000).toISOString().slice(0, 10), spent_msat: '20000000' });
    // Control: on A itself the clock set back a day counts against day D + 1 (the rule of review 1).
    // On B, the clock set back to day D: B's own record has no day yet, A's is D + 1, so before the
    // fix nothing counted and B signed 20 000 sat more — 40 000 sat of a 30 000 sat day.
    refusedWith(() => pay(b, b.device, 1, NOW, [onA]), 'E_OVER_DAILY_LIMIT');
    // The same with the clock forward on A: B at day D + 1 is over too (A's spending counts).
    refusedWith(() => pay(b, b.device, 1, NOW + DAY, [onA]), 'E_OVER_DAILY_LIMIT');
    // A later day has its own budget, on either channel; B's record then carries that day.
    const later = pay(b, b.device, 1, NOW + 2 * DAY, [onA]).record;
    expect(later.day).toEqual({ date: new Date((NOW + 2 * DAY) * 1000).toISOString().slice(0, 10), spent_msat: '20000000' });
  });
});
