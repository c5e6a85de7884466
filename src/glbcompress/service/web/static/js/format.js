// Numbers for people, the same way the server writes them (web/figures.py).

/** Bytes: 950 B, 2.3 kB, 14.1 MB (powers of 1024, three significant digits). */
export function formatSize(n) {
  if (n === null || n === undefined) return "–";
  for (const [unit, scale] of [
    ["GB", 1024 ** 3],
    ["MB", 1024 ** 2],
    ["kB", 1024],
  ]) {
    if (Math.abs(n) >= scale) {
      const value = n / scale;
      return `${Math.abs(value) >= 100 ? Math.round(value) : Number(value.toPrecision(3))} ${unit}`;
    }
  }
  return `${n} B`;
}
