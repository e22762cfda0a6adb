/** Types of scripts/node-lines.mjs (plain JavaScript: the scripts run it without a compile step). */
export type NodeLine = { major: number; pkg: string };
export declare const LINES: readonly NodeLine[];
export declare const NODE_FLOOR: readonly [number, number];
export declare function supported(version: string): boolean;
export declare function installedNode(line: NodeLine): string | undefined;
