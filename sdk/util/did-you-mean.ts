// "did you mean ...?" for names a user typed (case ids, configuration names): the closest valid names by edit
// distance, then the valid names themselves (all of them when there are few, else the first and last few).

/** Levenshtein distance (insert, delete, substitute; each costs 1). */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/** The valid names closest to `name`: those at the smallest edit distance (at most 3), if it is within a third of its length (or 2). */
export function closest(name: string, valid: readonly string[]): string[] {
  const limit = Math.max(2, Math.floor(name.length / 3));
  const scored = valid.map((v) => [v, editDistance(name.toLowerCase(), v.toLowerCase())] as const).filter(([, d]) => d <= limit);
  const best = Math.min(...scored.map(([, d]) => d));
  return scored
    .filter(([, d]) => d === best)
    .map(([v]) => v)
    .sort()
    .slice(0, 3);
}

/** A message tail: ` (did you mean "X"?; valid: a, b, c)`, or ` (there are none)` when `valid` is empty. */
export function didYouMean(name: string, valid: readonly string[], what = "valid"): string {
  if (valid.length === 0) return " (there are none)";
  const near = closest(name, valid);
  const list = valid.length <= 12 ? valid.join(", ") : `${valid.slice(0, 4).join(", ")}, …, ${valid.slice(-2).join(", ")} (${valid.length} in all)`;
  return ` (${near.length ? `did you mean ${near.map((v) => JSON.stringify(v)).join(" or ")}? ` : ""}${what}: ${list})`;
}
