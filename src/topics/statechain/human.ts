/**
 * `statechain list --human` (and on a terminal): the owner's coins for a person, one block each,
 * soonest deadline first, with what to do now. The JSON message (statechain/coins) is the input:
 * nothing here reads a store or a node.
 */
import { depthText, rows, thousands } from '../../lib/cli/human.ts';
import type { CoinsMessage } from './list.ts';

const blocksText = (n: number) => (n <= 0 ? (n === 0 ? 'now' : `${thousands(-n)} block${n === -1 ? '' : 's'} ago`) : `in ${thousands(n)} block${n === 1 ? '' : 's'}`);

export function coinsText(m: CoinsMessage): string {
  const n = m.coins.length;
  const out = [`${n} coin${n === 1 ? '' : 's'} at tip ${m.tip_height} (${m.network}), soonest deadline first${n ? '' : ': none'}`];
  const act = m.coins.filter((c) => c.must_act).length;
  if (act) out.push(`${act} MUST ACT NOW`);
  for (const c of m.coins) {
    const spent = c.chain?.funding === 'spent' ? c.chain : undefined;
    out.push('', `${c.coin_id}  ${c.status}${c.joint ? '  (the pair\'s: joint)' : ''}${c.must_act ? '  MUST ACT NOW' : ''}`);
    out.push(rows([
      ['coin', `${c.outpoint ?? 'no deposit yet'}${c.amount_sat !== null ? `, ${thousands(c.amount_sat)} sat` : ''}`],
      c.backup !== undefined ? ['your backup', `${c.backup} of ${c.backups}, final at block ${c.locktime} (${blocksText(c.blocks_to_final!)})`] : undefined,
      c.previous_locktime !== undefined ? ['previous owner\'s', `final at block ${c.previous_locktime} (${blocksText(c.blocks_to_previous_final!)}): yours must be mined by block ${c.deadline_height}`] : undefined,
      c.chain ? ['chain', spent ? `spent by ${spent.spent_by}${spent.txid ? ` ${spent.txid}` : ''}${depthText(spent.confirmations)}` : c.chain.funding === 'unspent' ? 'unspent' : 'the deposit is not on chain'] : undefined,
      ['next', c.next],
    ]));
  }
  return out.join('\n') + '\n';
}
