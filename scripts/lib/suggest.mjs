// "did you mean …?" for a mistyped command or option (spot-keys, the deploy scripts; npm start uses its
// distance with a looser rule for its long option names): the known names within an edit distance
// of 2 (a swap of two neighbours counts 1) or a prefix match (closest below).

/** The optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps. */
export function editDistance(a, b) {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/**
 * The names closest to `word`: those at edit distance 1; else the names it is a prefix of (at least 2
 * characters typed) or that are a prefix of it; else those at distance 2. A distance must also be less
 * than the word's length, so a short word is not "corrected" into anything. Empty when nothing is close.
 */
export function closest(word, names) {
  const within = (max) =>
    names.filter((name) => {
      const distance = editDistance(word, name);
      return distance <= max && distance < word.length;
    });
  const near = within(1);
  if (near.length > 0) return near;
  const prefixed = names.filter((name) => (word.length >= 2 && name.startsWith(word)) || (name.length >= 3 && word.startsWith(name)));
  return prefixed.length > 0 ? prefixed : within(2);
}

/** `did you mean a?` / `did you mean a or b?`, or undefined when no name is close. */
export function didYouMean(word, names, prefix = "") {
  const close = closest(word, names);
  return close.length > 0 ? `did you mean ${close.map((name) => prefix + name).join(" or ")}?` : undefined;
}
