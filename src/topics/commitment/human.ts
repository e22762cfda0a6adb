/**
 * `commitment list --human` (and on a terminal): the party's channels for a person, one block each,
 * a penalty's deadline first, with what to do now. The JSON message (bolt3/channels) is the input:
 * nothing here reads a store or a node.
 */
import { depthText, msatText, rows, thousands } from '../../lib/cli/human.ts';
import type { ChannelsMessage } from './list.ts';

const num = (n: number | null) => (n === null ? 'none' : String(n));
type NotMined = Extract<NonNullable<ChannelsMessage['channels'][number]['chain']>, { funding: 'not-mined' }>;
/** The funding not mined: in the mempool; a statechain backup's nLockTime; its coin taken by another transaction. */
const notMinedText = (c: NotMined) => [
  c.in_mempool ? ' (in the mempool)' : '',
  c.funding_locktime !== undefined ? ` (a statechain backup, nLockTime ${c.funding_locktime})` : '',
  c.lost_to ? `; its coin ${c.lost_to.coin_outpoint} spent by ${c.lost_to.txid ?? 'another transaction'}${depthText(c.lost_to.confirmations)}` : '',
].join('');

export function channelsText(m: ChannelsMessage): string {
  const n = m.channels.length;
  const out = [`${n} channel${n === 1 ? '' : 's'} at tip ${m.tip_height} (${m.network})${n ? '' : ': none'}`];
  const act = m.channels.filter((c) => c.must_act).length;
  if (act) out.push(`${act} MUST ACT NOW`);
  for (const c of m.channels) {
    const spent = c.chain?.funding === 'spent' ? c.chain : undefined;
    out.push('', `${c.channel_id}  ${c.status}${c.must_act ? '  MUST ACT NOW' : ''}`);
    out.push(rows([
      ['capacity', `${thousands(c.capacity_sat)} sat`],
      c.to_local_msat !== undefined ? ['balance', `yours ${msatText(c.to_local_msat)}, theirs ${msatText(c.to_remote_msat!)}`] : undefined,
      ['commitments', `yours ${num(c.local_commitment)}, theirs ${num(c.remote_commitment)}, ${c.revoked_commitments} of theirs revoked`],
      ['htlcs', c.htlcs ? `${c.htlcs} pending, ${thousands(c.htlc_sat)} sat` : 'none'],
      ['delays', `yours ${c.to_self_delay} blocks, theirs ${c.remote_to_self_delay} (your punishment window)`],
      c.chain ? ['chain', spent ? `spent by ${spent.spent_by}${spent.commitment_number !== undefined ? ` ${spent.commitment_number}` : ''}${spent.txid ? ` ${spent.txid}` : ''}${depthText(spent.confirmations)}` : c.chain.funding === 'unspent' ? 'funding unspent' : `funding not mined${c.chain.funding === 'not-mined' ? notMinedText(c.chain) : ''}`] : undefined,
      c.penalty ? ['penalty', `by block ${c.penalty.deadline_height} (${c.penalty.blocks_left} blocks left), ${c.penalty.outputs_left ?? 'unknown'} output(s) left, ${c.penalty.in_mempool} on their way`] : undefined,
      c.sweep_from !== undefined ? ['to_local', `yours from block ${c.sweep_from}`] : undefined,
      ...(c.sent ?? []).map((s) => ['sent', `${s.txid} for ${s.outpoint}${s.confirmations === null ? ', unknown to the node' : depthText(s.confirmations)}`] as const),
      ['next', c.next],
    ]));
  }
  return out.join('\n') + '\n';
}
