// pages/html.ts — HTML built from tagged templates that escape every interpolated value, so a
// user name, a path or a reason can never become markup; `raw()` is the one, explicit way around it.

/** A fragment of HTML that is safe to insert as is: built by {@link html} or vouched for by {@link raw}. */
export class SafeHtml {
  constructor(readonly value: string) {}

  toString(): string {
    return this.value;
  }
}

/** What may be interpolated into {@link html}: text (escaped), safe fragments, and arrays of either (joined). */
export type HtmlValue = SafeHtml | string | number | boolean | null | undefined | readonly HtmlValue[];

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes `& < > " '`, which makes text safe both between tags and inside a quoted attribute value. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => ENTITIES[ch]);
}

/** Marks trusted markup (a constant, or HTML built elsewhere) so {@link html} inserts it unescaped. */
export function raw(trusted: string): SafeHtml {
  return new SafeHtml(trusted);
}

function render(value: HtmlValue): string {
  if (value instanceof SafeHtml) return value.value;
  // `cond && html\`…\`` yields false when cond is false; neither boolean is meant to show.
  if (value === null || value === undefined || typeof value === 'boolean') return '';
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}

/** Tagged template: html`<p>${text}</p>` escapes every value unless it is a {@link SafeHtml}; arrays are joined. */
export function html(strings: TemplateStringsArray, ...values: readonly HtmlValue[]): SafeHtml {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1];
  return new SafeHtml(out);
}
