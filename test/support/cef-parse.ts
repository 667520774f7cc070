/** Splits a CEF line by the spec: 7 header fields split on unescaped `|`, then key=value pairs. */
export function parseCef(line: string): { header: string[]; ext: Record<string, string> } {
  const header: string[] = [];
  let cur = '';
  let i = 0;
  for (; i < line.length && header.length < 7; i++) {
    const c = line[i]!;
    if (c === '\\' && (line[i + 1] === '|' || line[i + 1] === '\\')) { cur += line[++i]; continue; }
    if (c === '|') { header.push(cur); cur = ''; continue; }
    cur += c;
  }
  const rest = line.slice(i);
  const ext: Record<string, string> = {};
  const keys = [...rest.matchAll(/(?:^| )([A-Za-z0-9_]+)=/g)].filter((m) => {
    let n = 0;
    for (let j = m.index! + m[0].length - 2; j >= 0 && rest[j] === '\\'; j--) n++;
    return n % 2 === 0;
  });
  keys.forEach((m, k) => {
    const start = m.index! + m[0].length;
    const end = k + 1 < keys.length ? keys[k + 1]!.index! : rest.length;
    ext[m[1]!] = rest.slice(start, end).replace(/\\(.)/g, (_, ch: string) => (ch === 'n' ? '\n' : ch === 'r' ? '\r' : ch));
  });
  return { header, ext };
}
