/**
 * Splits a command into argv without a shell: whitespace separates words, single quotes keep text
 * as is, double quotes allow `\"` and `\\`, a backslash outside quotes escapes the next character.
 * No variables, globs or redirections: nothing is ever interpreted by a shell.
 */
export function splitCommand(command: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  let quote: "'" | '"' | null = null;
  for (let i = 0; i < command.length; i++) {
    const ch = command[i]!;
    if (quote === "'") {
      if (ch === "'") quote = null;
      else word += ch;
      continue;
    }
    if (quote === '"') {
      if (ch === '"') quote = null;
      else if (ch === "\\" && (command[i + 1] === '"' || command[i + 1] === "\\")) word += command[++i];
      else word += ch;
      continue;
    }
    if (/\s/.test(ch)) {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
      continue;
    }
    inWord = true;
    if (ch === "'" || ch === '"') quote = ch;
    else if (ch === "\\" && i + 1 < command.length) word += command[++i];
    else word += ch;
  }
  if (quote) throw new Error(`unbalanced ${quote} quote in the command`);
  if (inWord) words.push(word);
  return words;
}
