import { inlineSvg } from "./svg.ts";

/** A run of text: plain, `code` or **strong**. */
export type Inline = string | { readonly code: string } | { readonly strong: string };

export type Block =
  | { readonly kind: "heading"; readonly level: 1 | 2 | 3; readonly text: string; readonly id?: string }
  | { readonly kind: "paragraph"; readonly content: readonly Inline[] }
  | { readonly kind: "list"; readonly items: readonly (readonly Inline[])[] }
  | {
      readonly kind: "table";
      readonly header: readonly string[];
      /** Per column: numbers are right-aligned. */
      readonly align: readonly ("left" | "right")[];
      readonly rows: readonly (readonly string[])[];
    }
  | { readonly kind: "figure"; readonly name: string; readonly title: string; readonly svg: string };

/** The report as one list of blocks, rendered to markdown and to HTML: both say the same. */
export interface ReportDocument {
  readonly title: string;
  readonly blocks: readonly Block[];
}

// ---------------------------------------------------------------------------------------------
// Markdown

/** Escapes what markdown would read as markup; `_` only where it could start or end emphasis. */
function mdEscape(text: string): string {
  return text
    .replace(/\r?\n/g, " ")
    .replace(/[\\`*[\]<>|]/g, "\\$&")
    .replace(/_/g, (u, i: number, all: string) =>
      /[A-Za-z0-9]/.test(all[i - 1] ?? "") && /[A-Za-z0-9]/.test(all[i + 1] ?? "") ? u : "\\_",
    )
    .replace(/^#/, "\\#");
}

function mdCode(text: string): string {
  const clean = text.replace(/\r?\n/g, " ");
  const ticks = clean.includes("`") ? "``" : "`";
  return ticks === "``" ? `\`\` ${clean} \`\`` : `\`${clean}\``;
}

function mdInline(content: readonly Inline[]): string {
  return content
    .map((c) =>
      typeof c === "string" ? mdEscape(c) : "code" in c ? mdCode(c.code) : `**${mdEscape(c.strong)}**`,
    )
    .join("");
}

function mdCell(text: string): string {
  return mdEscape(text);
}

export function toMarkdown(doc: ReportDocument): string {
  const out: string[] = [];
  for (const block of doc.blocks) {
    switch (block.kind) {
      case "heading":
        out.push(`${"#".repeat(block.level)} ${mdEscape(block.text)}`);
        break;
      case "paragraph":
        out.push(mdInline(block.content));
        break;
      case "list":
        out.push(block.items.map((item) => `- ${mdInline(item)}`).join("\n"));
        break;
      case "table": {
        const lines = [
          `| ${block.header.map(mdCell).join(" | ")} |`,
          `|${block.align.map((a) => (a === "right" ? " ---: " : " --- ")).join("|")}|`,
          ...block.rows.map((row) => `| ${row.map(mdCell).join(" | ")} |`),
        ];
        out.push(lines.join("\n"));
        break;
      }
      case "figure":
        out.push(`![${mdEscape(block.title)}](figures/${block.name}.svg)`);
        break;
    }
  }
  return `${out.join("\n\n")}\n`;
}

// ---------------------------------------------------------------------------------------------
// HTML

export function htmlEscape(text: string): string {
  return text
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}

function htmlInline(content: readonly Inline[]): string {
  return content
    .map((c) =>
      typeof c === "string"
        ? htmlEscape(c)
        : "code" in c
          ? `<code>${htmlEscape(c.code)}</code>`
          : `<strong>${htmlEscape(c.strong)}</strong>`,
    )
    .join("");
}

const CSS = `
:root { color-scheme: light; }
body { font: 15px/1.5 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1f2328;
  background: #fff; margin: 0; }
main { max-width: 1000px; margin: 0 auto; padding: 24px 32px 48px; }
h1 { font-size: 28px; margin: 8px 0 16px; border-bottom: 1px solid #d0d7de; padding-bottom: 8px; }
h2 { font-size: 21px; margin: 32px 0 12px; border-bottom: 1px solid #eaeef2; padding-bottom: 4px; }
h3 { font-size: 17px; margin: 24px 0 8px; }
p, ul { margin: 8px 0 12px; }
code { font: 13px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: #f3f4f6;
  padding: 1px 4px; border-radius: 4px; }
.table-wrap { overflow-x: auto; margin: 8px 0 16px; }
table { border-collapse: collapse; font-size: 14px; }
th, td { border: 1px solid #d0d7de; padding: 4px 10px; text-align: left; white-space: nowrap; }
th { background: #f6f8fa; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tbody tr:nth-child(even) { background: #fafbfc; }
figure { margin: 16px 0 28px; }
figure svg { max-width: 100%; height: auto; }
figcaption { font-size: 13px; color: #57606a; margin-top: 4px; }
`;

export function toHtml(doc: ReportDocument): string {
  const body: string[] = [];
  let figure = 0;
  for (const block of doc.blocks) {
    switch (block.kind) {
      case "heading": {
        const id = block.id === undefined ? "" : ` id="${htmlEscape(block.id)}"`;
        body.push(`<h${block.level}${id}>${htmlEscape(block.text)}</h${block.level}>`);
        break;
      }
      case "paragraph":
        body.push(`<p>${htmlInline(block.content)}</p>`);
        break;
      case "list":
        body.push(`<ul>\n${block.items.map((i) => `<li>${htmlInline(i)}</li>`).join("\n")}\n</ul>`);
        break;
      case "table": {
        const cls = (i: number): string => (block.align[i] === "right" ? ' class="num"' : "");
        const head = block.header.map((h, i) => `<th${cls(i)}>${htmlEscape(h)}</th>`).join("");
        const rows = block.rows
          .map((r) => `<tr>${r.map((c, i) => `<td${cls(i)}>${htmlEscape(c)}</td>`).join("")}</tr>`)
          .join("\n");
        body.push(
          `<div class="table-wrap"><table>\n<thead><tr>${head}</tr></thead>\n<tbody>\n${rows}\n</tbody>\n</table></div>`,
        );
        break;
      }
      case "figure":
        figure++;
        body.push(
          `<figure id="figure-${htmlEscape(block.name)}">\n${inlineSvg(block.svg, `fig${figure}-`)}\n<figcaption>Figure ${figure}: ${htmlEscape(block.title)} (<code>figures/${htmlEscape(block.name)}.svg</code>)</figcaption>\n</figure>`,
        );
        break;
    }
  }
  return [
    "<!DOCTYPE html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${htmlEscape(doc.title)}</title>`,
    `<style>${CSS}</style>`,
    "</head>",
    "<body>",
    "<main>",
    ...body,
    "</main>",
    "</body>",
    "</html>",
    "",
  ].join("\n");
}
