// config/locate.ts — maps a path in the configuration (['routes', 2, 'from']) to the line and
// column of the YAML node it came from, so every error reads FILE:LINE:COL: message.
import { isMap, isScalar, isSeq, LineCounter, type Document, type Node } from 'yaml';
import type { ConfigIssue } from './issue.js';

export type ConfigPath = readonly PropertyKey[];

export { formatIssue, type ConfigIssue } from './issue.js';

/** Locates paths in one parsed document. `key: true` points at a map key rather than its value. */
export class Locator {
  constructor(
    private readonly file: string,
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  /** The issue for `path`; when the exact node is missing, the nearest existing ancestor is used. */
  issue(path: ConfigPath, message: string, options: { key?: boolean } = {}): ConfigIssue {
    const offset = this.offset(path, options.key ?? false);
    const { line, col } = this.lines.linePos(offset);
    return { file: this.file, line, col, message };
  }

  private offset(path: ConfigPath, pointAtKey: boolean): number {
    let node: unknown = this.doc.contents;
    let best = rangeStart(node) ?? 0;
    for (let i = 0; i < path.length; i++) {
      const seg = path[i];
      const last = i === path.length - 1;
      if (isMap(node)) {
        const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === seg);
        if (!pair) return best;
        if (last && pointAtKey) return rangeStart(pair.key) ?? best;
        node = pair.value;
        // A key with a null value (`policy:`) has no value node: point at the key.
        best = rangeStart(node) ?? rangeStart(pair.key) ?? best;
      } else if (isSeq(node) && typeof seg === 'number') {
        const item = node.items[seg];
        if (item === undefined) return best;
        node = item;
        best = rangeStart(node) ?? best;
      } else {
        return best;
      }
    }
    return best;
  }
}

function rangeStart(node: unknown): number | undefined {
  const r = (node as Node | null | undefined)?.range;
  return r ? r[0] : undefined;
}

export { LineCounter };
