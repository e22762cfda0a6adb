#!/usr/bin/env -S node --import tsx
// Development entry: runs the TypeScript sources directly (through tsx), no build.
import { main } from '../src/cli.ts';

await main(process.argv.slice(2), { development: true });
