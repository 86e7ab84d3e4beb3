// What a bench case is: a data set generator and a deterministic mutation of it. The steps (first
// backup, mutation, incremental, no-change, restore, check) are the same for every case.

/** Files and bytes of one part of a generated data set. */
export interface Share {
  files: number;
  bytes: number;
}

/** A generated data set: its root and what it is made of. */
export interface DataSetInfo {
  root: string;
  files: number;
  bytes: number;
  /** Files and bytes by category (e.g. binaries, text, duplicates, small files). */
  composition: Record<string, Share>;
}

/** What a mutation did to a data set. */
export interface MutationInfo {
  modified: number;
  appended: number;
  added: number;
  deleted: number;
  /** New or changed bytes written. */
  bytesWritten: number;
}

/** One kind of data set the bench can run on. */
export interface BenchDataSet {
  /** Generates the data set under `root` (created empty by the caller); the same seed gives the same tree. */
  generate(root: string, size: number, seed: string): DataSetInfo;
  /** Changes about 1% of the data set in place: modifies, appends, adds and deletes files. */
  mutate(root: string, size: number, seed: string): MutationInfo;
}
