//! "Did you mean": the known spelling closest to a mistyped key or value.
//!
//! Words are compared case-insensitively and without `-` / `_`, so `filepath`,
//! `file-path` and `file_path` are all zero edits from `filePath`. A known word
//! is a suggestion when it is at most two edits away (Damerau: a swap of two
//! neighbours is one edit) and at most a third of its length, at least one:
//! `lsit` -> `list`, `pullIntervalSecond` -> `pullIntervalSeconds`, but `get`
//! suggests nothing.

/// The known word closest to `word` within the rule above; the first one
/// listed wins a tie. `None` when `word` is itself known or nothing is close.
pub(crate) fn closest<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
    if known.contains(&word) {
        return None;
    }
    let w = normalize(word);
    known
        .iter()
        .map(|k| (*k, normalize(k)))
        .filter_map(|(k, nk)| {
            let d = distance(&w, &nk);
            let limit = (nk.len() / 3).clamp(1, 2);
            (d <= limit).then_some((d, k))
        })
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn normalize(s: &str) -> Vec<char> {
    s.chars()
        .filter(|c| *c != '-' && *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

/// Optimal string alignment distance: insertions, deletions, substitutions
/// and swaps of two adjacent characters each cost one.
fn distance(a: &[char], b: &[char]) -> usize {
    let (n, m) = (a.len(), b.len());
    // d[i][j]: distance between a[..i] and b[..j].
    let mut d = vec![vec![0usize; m + 1]; n + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=n {
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[n][m]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dist(a: &str, b: &str) -> usize {
        distance(&normalize(a), &normalize(b))
    }

    #[test]
    fn distance_counts_edits_and_swaps() {
        assert_eq!(dist("list", "list"), 0);
        assert_eq!(dist("lsit", "list"), 1);
        assert_eq!(dist("lst", "list"), 1);
        assert_eq!(dist("lists", "list"), 1);
        assert_eq!(dist("filepath", "filePath"), 0);
        assert_eq!(dist("file-path", "filePath"), 0);
        assert_eq!(dist("kitten", "sitting"), 3);
        assert_eq!(dist("", "abc"), 3);
    }

    #[test]
    fn suggests_only_close_words() {
        let known = ["pullIntervalSeconds", "ignoredFields", "strategy", "list"];
        assert_eq!(
            closest("pullIntervalSecond", &known),
            Some("pullIntervalSeconds")
        );
        assert_eq!(closest("ignoreFields", &known), Some("ignoredFields"));
        assert_eq!(closest("ignore_fields", &known), Some("ignoredFields"));
        assert_eq!(closest("Strategy", &known), Some("strategy"));
        assert_eq!(closest("stratgey", &known), Some("strategy"));
        assert_eq!(closest("lsit", &known), Some("list"));
        // Two edits are too many for a four-letter word.
        assert_eq!(closest("lxsx", &known), None);
        assert_eq!(closest("connectionMode", &known), None);
        assert_eq!(closest("get", &known), None);
        // A known word suggests nothing, not even itself.
        assert_eq!(closest("list", &known), None);
    }

    #[test]
    fn nearest_wins_then_first_listed() {
        assert_eq!(
            closest("maxPage", &["maxPagesXY", "maxPages"]),
            Some("maxPages")
        );
        assert_eq!(closest("ab", &["ax", "ay"]), Some("ax"));
    }
}
