// config/issue.ts — one configuration problem located in its file, and how every tool prints it (FILE:LINE:COL:
// message). Apart from config/locate.ts, which finds the line and column, so printing one never loads the YAML parser.

/** One configuration problem, located in its file. */
export interface ConfigIssue {
  file: string;
  line: number;
  col: number;
  message: string;
}

/** Formats an issue the way `validate`, reload logs and every tool print it. */
export function formatIssue(issue: ConfigIssue): string {
  return `${issue.file}:${issue.line}:${issue.col}: ${issue.message}`;
}
