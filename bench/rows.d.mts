/** Types of ./rows.mjs for the TypeScript benchmarks (the module is plain JS so that the .mjs ones can import it too). */
export declare const ROWS_ENV: string;
export type Row = {
  id: string;
  label: string;
  value: number;
  unit: string;
  wall?: number;
  range?: [number, number];
  anchor?: { label: string; value: number };
  ratio?: number;
  ratioRange?: [number, number];
  target?: { on: 'ratio' | 'value'; atLeast?: number; atMost?: number };
  /** What bounds the figure, measured in the same run (the README's last column). */
  bound?: string;
  note?: string;
};
export declare function reportRow(row: Row): Row & { load: number };
export declare function meetsTarget(row: Row): boolean | undefined;
