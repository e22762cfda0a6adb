/**
 * BIP-327's two kinds of failure as one error class. The spec raises
 * InvalidContributionError(signer, contrib) when one participant (or, with signer =
 * None, the aggregator) sent something invalid, and ValueError for everything else;
 * here both are a `Bip327Error`, the first with `signer` / `contribution` set.
 * Re-exported by ../bip327.ts, which is where callers import it from.
 */
export type ContributionKind = 'pubkey' | 'pubnonce' | 'aggnonce' | 'aggothernonce' | 'psig' | 'tweak' | 'adaptor';

/** A BIP-327 failure: `signer` is set when one participant's contribution is to blame. */
export class Bip327Error extends Error {
  readonly signer: number | undefined;
  readonly contribution: ContributionKind | undefined;
  constructor(message: string, signer?: number, contribution?: ContributionKind) {
    super(message);
    this.name = 'Bip327Error';
    this.signer = signer;
    this.contribution = contribution;
  }
}

/** The spec's InvalidContributionError(signer, contrib), worded as callers have always seen it. */
export function invalidContribution(signer: number, contribution: ContributionKind): Bip327Error {
  return new Bip327Error(`invalid ${contribution} of signer ${signer}`, signer, contribution);
}

/** A malformed argument (wrong length, wrong count): the caller's bug, nobody's contribution. */
export function badArgument(message: string): Bip327Error {
  return new Bip327Error(message);
}
