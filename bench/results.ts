// The shape of a bench run's results, as written to bench/results/latest.json.
import type { DataSetInfo, MutationInfo } from './benchCase.js';
import type { Measurement } from './measure.js';
import type { ToolName } from './tools.js';
import type { Verdict } from './verify.js';

/** One tool's run of one step. */
export interface ToolRun {
  tool: ToolName;
  /** Cost of the run; stdout/stderr are cut to the summary line (backups) or the last lines (failures). */
  measurement: Omit<Measurement, 'stdout' | 'stderr'>;
  /** The command exited 0 (and, for a restore, the restored tree equals the source). */
  ok: boolean;
  /** Restore only: the comparison with the source. */
  verdict?: Verdict;
  /** Backup only: the tool's JSON summary (files new/changed, data added). */
  summary?: Record<string, unknown>;
  /** Why it failed: the last lines of stderr. */
  error?: string;
  /** Data-set bytes per wall second. */
  mibPerSecond: number;
  /** Data-set files per wall second. */
  filesPerSecond: number;
}

/** Names of the measured steps, in order. */
export const stepNames = ['first backup', 'incremental backup', 'no-change backup', 'restore', 'check --read-data'] as const;
export type StepName = (typeof stepNames)[number];

/** One step with both tools' runs, in the order they ran. */
export interface StepResult {
  step: StepName;
  order: ToolName[];
  runs: Partial<Record<ToolName, ToolRun>>;
  /** Size of the data set the step worked on. */
  dataBytes: number;
  dataFiles: number;
}

/** Repository sizes in bytes at one point of the run. */
export type RepoSizes = Partial<Record<ToolName, number>>;

/** Everything one bench run measured. */
export interface BenchResult {
  case: string;
  date: string;
  size: number;
  seed: string;
  workDir: string;
  machine: { cpus: number; model: string; memoryBytes: number; loadAtStart: number[]; loadAtEnd: number[] };
  versions: Record<string, string>;
  dataset: DataSetInfo & { generateSeconds: number };
  mutation?: MutationInfo;
  steps: StepResult[];
  repoSizes: { afterFirst: RepoSizes; afterIncremental: RepoSizes; final: RepoSizes };
  /** How the run was made fair (cache, page cache, order); printed under the table. */
  notes: string[];
}
