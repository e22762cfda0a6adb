/** JSON Schema of the `key/public` message (docs and schemas/). */
import { Type } from '@sinclair/typebox';
import { Hex, messageSchema } from '../message.ts';

export const KeyPublicSchema = messageSchema('key/public', 'Public data of a secret key: never the secret.', {
  public_key: Hex('33-byte compressed public key (BIP-327 individual public key)', 33),
  x_only: Hex('32-byte x-only public key (BIP-340)', 32),
  p2tr_address: Type.String({ description: 'single-key P2TR address of this key (BIP-86 style, no script tree)' }),
  key_file: Type.Optional(Type.String({ description: 'the key file it was read from, when one was given' })),
});
