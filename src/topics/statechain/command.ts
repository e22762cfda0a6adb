/**
 * The base of the statechain commands: each party's state (one JSON document per coin
 * under <state-dir>/<network>/statechain, read-modify-written under the directory lock,
 * so a step's record is on disk before its answer is printed), its single-use nonce
 * store, and the chain facts a step needs — from a node, or offline from --tip-height and
 * --confirmations N (an explicit assertion that the coin's deposit has N).
 *
 * Documents: `op-<coin>` (operator: its share s, pending x₁, statement), `coin-<coin>`
 * (owner or receiver: its share o, the backup chain), `deposit-<O>` (an owner's share
 * before the operator names the coin), `receive-<coin>` (a receiver's share before it is
 * handed the coin). With --store (or $OFFCHAIN_STORE_URL) the operator's records live in
 * PostgreSQL instead (src/lib/store/operator-store.ts is the port; owners keep their files).
 */
import { type Command } from '@oclif/core';
import { ExitCode, MalformedInputError, OffchainError, StateConflictError, UsageError } from '../../lib/errors.ts';
import type { Network } from '../../lib/network.ts';
import type { ChainSource, UtxoInfo } from '../../lib/chain/types.ts';
import type { Documents as StateStore } from '../../lib/store/sqlite/records.ts';
import type { OperatorContext } from '../../lib/statechain/operator.ts';
import type { OperatorStore } from '../../lib/statechain/ports.ts';
import type { OfferedTerms } from './operator-steps.ts';
import type { OwnerContext, OwnerRecord } from '../../lib/statechain/owner.ts';
import type { Statement } from '../../lib/statechain/schemas.ts';
import type { UnsignedStatement } from '../../lib/statechain/statement.ts';
import type { ChainFacts } from '../../lib/statechain/verify.ts';
import type { SendingRecord } from '../../lib/statechain/joint-send.ts';
import type { Floor } from '../../lib/statechain/floor.ts';
import { OffchainCommand } from '../../lib/cli/base-command.ts';
import { strictDecimal } from './flags.ts';

export abstract class StatechainCommand<T extends typeof Command> extends OffchainCommand<T> {
  /** MuSig2 and the operator's additive share at every step (base-command.ts `curveWork`). */
  protected override curveWork = true;

  /**
   * The owner's documents in the network's state (store/sqlite/records.ts `Documents`): the
   * database is made by the first write; its shares sealed under the owner's key, asked only
   * when a document holding one is read or written.
   */
  protected store(network: Network): Promise<StateStore> {
    let store = this.stores.get(network);
    if (store === undefined) this.stores.set(network, (store = this.openStore(network)));
    return store;
  }

  /** One store per network in a run: its statements prepared, its seal derived and what it opened kept once. */
  private stores = new Map<Network, Promise<StateStore>>();

  private async openStore(network: Network): Promise<StateStore> {
    const { ownerDocuments } = await import('./backup-spend.ts');
    return ownerDocuments((create) => this.state(network, { create }), this.stateDir(network), () => this.keyPair(network));
  }

  /** The one JSON message a step reads, its envelope checked, the network resolved. */
  protected async readStep(expected: string): Promise<{ type: string; network: Network; value: Record<string, unknown> }> {
    const doc = await this.readDocument();
    if (doc.format !== 'json') throw new MalformedInputError('E_EXPECTED_MESSAGE', `expected ${expected}`);
    const { readEnvelope } = await import('../../lib/envelope.ts');
    const env = readEnvelope(doc.value);
    return { type: env.type, network: this.network(env.network), value: doc.value as Record<string, unknown> };
  }

  protected async decode<S extends import('@sinclair/typebox').TObject>(schema: S, value: unknown): Promise<import('@sinclair/typebox').Static<S>> {
    const { decodeMessage } = await import('../../lib/message.ts');
    return decodeMessage(schema, value);
  }

  protected async ownerContext(network: Network): Promise<OwnerContext> {
    if ((this.flags as { store?: string }).store !== undefined) {
      throw new UsageError('E_USAGE', '--store keeps an operator\'s records; an owner\'s share and backups stay in --state-dir');
    }
    const auth = await this.keyPair(network);
    return { auth, random: this.random, nonces: await this.nonceStore(network, auth), network };
  }

  protected async operatorContext(network: Network, statement?: Statement | UnsignedStatement): Promise<OperatorContext> {
    return { operator: await this.keyPair(network), random: this.random, chain: await this.coinChain(network, statement), network };
  }

  /** The tip and the deposit's state, as the receiver's verification takes them. */
  protected async chainFacts(network: Network, statement: Statement): Promise<ChainFacts> {
    const chain = await this.coinChain(network, statement);
    const tip = await chain.tip();
    if (statement.outpoint === null) return { tipHeight: tip.height, deposit: null };
    const [txid, vout] = statement.outpoint.split(':');
    return { tipHeight: tip.height, deposit: await chain.utxo(txid!, Number(vout)) };
  }

  /** With a node, the node; offline, --tip-height and the asserted deposit confirmations. */
  protected async coinChain(network: Network, statement?: Statement | UnsignedStatement): Promise<ChainSource> {
    const base = await this.chain(network);
    const confirmations = (this.flags as { confirmations?: number }).confirmations;
    if (base.kind === 'rpc') {
      if (confirmations !== undefined) throw new UsageError('E_USAGE', '--confirmations is for offline use; the node is asked instead');
      return base;
    }
    // The offline source with its utxo() answering for the coin's deposit; every other
    // method (broadcast: E_CHAIN_OFFLINE) is the source's own — a spread would drop them.
    const source = Object.create(base) as ChainSource;
    return Object.assign(source, {
      async utxo(txid: string, vout: number): Promise<UtxoInfo | null> {
        if (confirmations === undefined || statement === undefined || statement.outpoint !== `${txid}:${vout}` || statement.amount_sat === null) return base.utxo(txid, vout);
        const { coinKey } = await import('../../lib/statechain/coin.ts');
        const { fromHex } = await import('../../lib/bytes.ts');
        const key = coinKey(fromHex(statement.owner_share, 'owner_share', 33), fromHex(statement.operator_share, 'operator_share', 33));
        return { txid, vout, value: BigInt(statement.amount_sat), scriptPubKey: key.script, confirmations };
      },
    });
  }

  /**
   * The operator's store: PostgreSQL when --store or $OFFCHAIN_STORE_URL names one (the
   * shares sealed under this operator's key, a rollback witness in --state-dir), else the
   * op-<coin> files under --state-dir.
   */
  protected async operatorStore(network: Network): Promise<OperatorStore> {
    const { storeTarget } = await import('../../lib/cli/store-flags.ts');
    const target = await storeTarget(this.flags as Record<string, unknown>);
    if (target === undefined) {
      const { SqliteOperatorStore } = await import('../../lib/store/sqlite/operator.ts');
      const { Sealer } = await import('../../lib/store/seal.ts');
      const key = await this.keyPair(network);
      return new SqliteOperatorStore((create) => this.state(network, { create }), Sealer.fromSecret(key.secretKey), this.stateDir(network));
    }
    const { PgOperatorStore } = await import('../../lib/store/pg/operator-store.ts');
    const { VersionWitness } = await import('../../lib/store/pg/witness.ts');
    return new PgOperatorStore(target, { network, operatorSecret: (await this.keyPair(network)).secretKey, witness: new VersionWitness((create) => this.state(network, { create }), this.stateDir(network)) });
  }

  /**
   * Operator: its row for this message (operator-steps.ts, the one implementation `serve
   * statechain` runs too) on this invocation's store, closed after; `terms` for a deposit-request.
   */
  protected async operatorAnswer(network: Network, type: string, value: unknown, terms?: () => Promise<OfferedTerms>): Promise<Record<string, unknown>> {
    const { operatorStep } = await import('./operator-steps.ts');
    const row = operatorStep(type);
    const store = await this.operatorStore(network);
    try {
      return await row.run({ network, store, context: (statement) => this.operatorContext(network, statement), ...(terms ? { terms } : {}) }, value);
    } finally {
      await store.close();
    }
  }

  /**
   * --peer URL (an owner's or receiver's step): while our step's message is one the operator
   * reads, send it to `serve statechain` at URL (operator-steps.ts names the endpoint; the same
   * bytes a pipe carries, retried safely) and run our own row (`next`) on its answer, which
   * must be the answer that row of the operator gives (anything else: E_PEER_ANSWER, nothing
   * applied). Without --peer, or for a message bound to another party, `message` as it is.
   */
  protected async viaPeer(network: Network, message: Record<string, unknown>, next: (type: string, value: Record<string, unknown>) => Promise<Record<string, unknown>>): Promise<Record<string, unknown>> {
    const { peer, 'peer-timeout': seconds } = this.flags as { peer?: string; 'peer-timeout'?: number };
    if (peer === undefined) return message;
    const { peerUrl, callPeer, peerRetry } = await import('../../lib/cli/peer.ts');
    const { operatorSteps } = await import('./operator-steps.ts');
    const { stringifyMessage } = await import('../../lib/json.ts');
    const { readEnvelope } = await import('../../lib/envelope.ts');
    const { resolveNetwork } = await import('../../lib/network.ts');
    const base = peerUrl(peer);
    let out = message;
    for (let row = operatorSteps[String(out.type)]; row !== undefined && Object.hasOwn(operatorSteps, String(out.type)); row = operatorSteps[String(out.type)]) {
      const sent = String(out.type);
      const answer = await callPeer(base, row.path, {
        body: stringifyMessage(out),
        ...(typeof out.coin_id === 'string' ? { contract: out.coin_id } : {}),
        ...peerRetry(seconds),
        onRetry: (why, ms) => this.term.warn(`--peer: ${why}; sending the same ${sent} again in ${Math.round(ms)} ms`),
      });
      const env = readEnvelope(answer.value);
      if (env.type !== row.answers) throw new OffchainError('E_PEER_ANSWER', `${base.origin} answered a ${sent} with ${env.type}, not ${row.answers}: is --peer the statechain operator's service?`, ExitCode.general);
      resolveNetwork(network, env.network);
      out = await next(env.type, answer.value as Record<string, unknown>);
    }
    return out;
  }

  /** --to and --fee-rate: the script a spend pays and its rate (a plain decimal: `0x10` and `1e3` are refused, exit 2). */
  protected async payTo(network: Network, to: string, rate: string): Promise<{ destination: Uint8Array; feeRate: number }> {
    const { decodeAddress } = await import('../../lib/address.ts');
    return { destination: decodeAddress(to, network, '--to'), feeRate: strictDecimal(rate, '--fee-rate', 0.1, 100_000, 3) };
  }

  /** The owner's safety floor from its flags (floorFlags), defaults where not given. */
  protected async floor(): Promise<Floor> {
    const { DEFAULT_FLOOR } = await import('../../lib/statechain/floor.ts');
    const f = this.flags as { 'min-confirmations'?: number; 'min-margin'?: number; 'min-interval'?: number; 'max-backup-fee'?: number; 'max-backup-fee-percent'?: string; 'max-initial-lock'?: number; 'allow-unanchored'?: boolean };
    const percent = f['max-backup-fee-percent'] === undefined ? DEFAULT_FLOOR.maxBackupFeePercent : strictDecimal(f['max-backup-fee-percent'], '--max-backup-fee-percent', 0, 100, 2);
    return {
      minConfirmations: f['min-confirmations'] ?? DEFAULT_FLOOR.minConfirmations,
      minMargin: f['min-margin'] ?? DEFAULT_FLOOR.minMargin,
      minInterval: f['min-interval'] ?? DEFAULT_FLOOR.minInterval,
      maxBackupFeeSat: f['max-backup-fee'] === undefined ? DEFAULT_FLOOR.maxBackupFeeSat : BigInt(f['max-backup-fee']),
      maxBackupFeePercent: percent,
      maxInitialLock: f['max-initial-lock'] ?? DEFAULT_FLOOR.maxInitialLock,
      ...(f['allow-unanchored'] === true ? { allowUnanchored: true } : {}),
    };
  }

  protected async ownerRecord(store: StateStore, coinId: string): Promise<OwnerRecord> {
    const record = await store.read<OwnerRecord>(`coin-${coinId}`);
    if (record === undefined) throw new StateConflictError('E_UNKNOWN_COIN', `no coin ${coinId} in ${store.dir} (wrong --state-dir or network?)`);
    return record;
  }

  /** Owner: read-modify-write its coin record under the lock. */
  protected async ownerStep<M>(network: Network, coinId: string, step: (r: OwnerRecord) => Promise<{ record: OwnerRecord; message: M }>): Promise<M> {
    const store = await this.store(network);
    let message: M | undefined;
    await store.update<OwnerRecord>(`coin-${coinId}`, async (current) => {
      if (current === undefined) throw new StateConflictError('E_UNKNOWN_COIN', `no coin ${coinId} in ${store.dir} (wrong --state-dir or network?)`);
      const out = await step(current);
      message = out.message;
      return out.record;
    });
    return message!;
  }

  /** One step of a pair's send or withdrawal on this part's record, written before the answer is printed. */
  protected async jointStep<M>(store: StateStore, coinId: string, step: (r: SendingRecord) => Promise<{ record: SendingRecord; message: M }>): Promise<M> {
    let message: M | undefined;
    await store.update<SendingRecord>(`joint-${coinId}`, async (current) => {
      if (current === undefined) throw new StateConflictError('E_UNKNOWN_COIN', `no joint share of coin ${coinId} in ${store.dir}`);
      const out = await step(current);
      message = out.message;
      return out.record;
    });
    return message!;
  }

  /**
   * We hold the coin as a part of a pair, so a step on it is the pair's: an active (or
   * sending) joint record; with `answering`, also one waiting for (or past) the operator's answer.
   */
  protected async heldJointly(store: StateStore, coinId: string, answering = false): Promise<boolean> {
    const r = await store.read<SendingRecord>(`joint-${coinId}`);
    if (r === undefined) return false;
    return r.status === 'active' || r.status === 'sending' || (answering && (r.status === 'sent' || r.status === 'withdrawing' || r.status === 'withdrawn'));
  }
}
