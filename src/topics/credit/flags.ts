/**
 * The credit group's shared flags: which party runs a step, which contract, the offline
 * chain facts the mint is told, and where the ecash secrets come from (never argv).
 * Spread into a command's `static flags`; read by the steps in ./command.ts and ./ecash.ts.
 */
import { Flags } from '@oclif/core';
import { hexFlag, renamedFrom } from '../../lib/cli/flags.ts';

export const roleFlag = {
  role: Flags.string({ description: 'which party runs this step', options: ['user', 'mint'], required: true }),
};

export const contractFlag = {
  contract: hexFlag(32, { description: 'contract id (default: the only open contract in the state directory)', helpValue: 'ID' }),
};

export const fundingConfirmationsFlag = {
  confirmations: renamedFrom(Flags.integer({
    description: 'offline: assert the served contract\'s funding output has N confirmations (with a node, it is asked instead; was --funding-confirmations)',
    helpValue: 'N',
    min: 0,
    helpGroup: 'CHAIN',
  }), 'funding-confirmations'),
};

/**
 * The mint's ecash seed — the secret its keyset derives from, as the Cashu mint it fronts
 * derives its own (Nutshell: MINT_PRIVATE_KEY) — from the environment or a 0600 file,
 * never argv. --ecash-path is read only where no keyset is stored yet (a store published
 * before keysets were kept; the others keep each keyset's path).
 */
export const ecashSeedFlags = {
  'ecash-seed-env': Flags.string({ description: 'mint: name of the environment variable holding the ecash seed (the Cashu mint\'s private key string)', helpValue: 'NAME', helpGroup: 'ECASH' }),
  'ecash-seed-file': Flags.string({ description: 'mint: file (mode 0600) holding the ecash seed', helpValue: 'FILE', helpGroup: 'ECASH' }),
  'ecash-path': Flags.string({ description: 'mint: BIP-32 path of the keyset, its last step the keyset index (Nutshell\'s MINT_DERIVATION_PATH; default m/0\'/0\'/0\')', helpValue: 'PATH', helpGroup: 'ECASH' }),
};

/**
 * The ecash mint's settings (docs/ecash.md, "Settings side by side"), named once by the
 * operator, and/or the running mint's own answers to check them against. A setting not
 * named is taken from the mint's answers, or without them is Nutshell 0.20.3's default.
 */
export const ecashSettingsFlags = {
  'ecash-input-fee-ppk': Flags.integer({ description: 'mint: the keyset\'s input fee in ppk (Nutshell\'s MINT_INPUT_FEE_PPK; default: as the mint announces, else 100)', helpValue: 'PPK', min: 0, helpGroup: 'ECASH' }),
  'ecash-unit': Flags.string({ description: 'mint: the keyset\'s unit (the credit contract pays in sat)', options: ['sat'], helpGroup: 'ECASH' }),
  'ecash-id-version': Flags.string({ description: 'mint: the NUT-02 id version of the keyset: 01 for a keyset Nutshell 0.20 created, 00 for one created by 0.19 or older (default: as the mint announces, else 01)', options: ['00', '01'], helpGroup: 'ECASH' }),
  'ecash-amounts': Flags.integer({ description: 'mint: the keyset\'s number of amounts, 2^0 … 2^(N−1) (Nutshell 64, CDK 32; default: as the mint announces, else 64)', helpValue: 'N', min: 1, max: 64, helpGroup: 'ECASH' }),
  'ecash-keysets': Flags.string({ description: 'mint: the running ecash mint to check against: its URL (its /v1/keysets and /v1/keys are read), or a file with its /v1/keysets answer', helpValue: 'URL|FILE', helpGroup: 'ECASH' }),
  'ecash-keys': Flags.string({ description: 'mint, with --ecash-keysets FILE: a file with the mint\'s /v1/keys answer', helpValue: 'FILE', helpGroup: 'ECASH' }),
};

/** The user's NUT-13 wallet seed (BIP-39 seed bytes, hex) from the environment or a 0600 file. */
export const walletSeedFlags = {
  'wallet-seed-env': Flags.string({ description: 'user: name of the environment variable holding the wallet seed (hex, 16–64 bytes; NUT-13)', helpValue: 'NAME', helpGroup: 'ECASH' }),
  'wallet-seed-file': Flags.string({ description: 'user: file (mode 0600) holding the wallet seed as hex', helpValue: 'FILE', helpGroup: 'ECASH' }),
};

export const tokenOutFlag = {
  'token-out': Flags.string({ description: 'user, with ecash: write the payment\'s cashuB token to this new file (mode 0600); "-" prints the token alone on standard output (it is bearer money)', helpValue: 'FILE', helpGroup: 'ECASH' }),
};
