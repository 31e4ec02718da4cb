// cli/io.ts — what a subcommand may touch: its output streams and the environment (injectable for tests).

export interface CliIo {
  stdout: { write(chunk: string): unknown };
  stderr: { write(chunk: string): unknown };
  env: Readonly<Record<string, string | undefined>>;
}

/** A subcommand: returns the exit code, or undefined when it keeps running (serve). */
export type Command = (args: string[], io: CliIo) => Promise<number | undefined>;
