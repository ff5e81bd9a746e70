//! Live-prefix detection: "how many bytes at the end of this buffer could
//! still grow into a pattern?"
//!
//! The aho-corasick crate does not expose the depth of its automaton states,
//! so we keep our own small trie with failure links (a classic Aho–Corasick
//! goto/fail machine, used only over the last `max_len - 1` bytes of each
//! push). Walking it is O(bytes walked) amortised, independent of the number
//! of patterns, which keeps the per-push tail check cheap even with ~10k
//! patterns.

/// Trie of all patterns in CSR form, plus failure links.
#[derive(Debug, Default)]
pub(crate) struct PrefixAutomaton {
    /// Children of node `n` are `edge_bytes/edge_targets[edge_start[n]..edge_start[n + 1]]`,
    /// sorted by byte so lookups can binary-search.
    edge_start: Vec<u32>,
    edge_bytes: Vec<u8>,
    edge_targets: Vec<u32>,
    /// Direct lookup table for the root: it has the most children and is
    /// visited after nearly every mismatch, so avoid the binary search there.
    root_next: Vec<u32>,
    fail: Vec<u32>,
    /// For node `n`: the depth of the deepest node on `n`'s failure chain
    /// (including `n`) that still has children, i.e. the length of the
    /// longest suffix that is a *proper* prefix of some pattern. A node that
    /// is a complete pattern with no extension does not count: that match
    /// is final and must not be held back.
    live_depth: Vec<u32>,
}

const ROOT: u32 = 0;

impl PrefixAutomaton {
    /// Build from patterns (need not be sorted or unique; empty ones are ignored).
    pub(crate) fn new(patterns: &[Vec<u8>]) -> PrefixAutomaton {
        let mut sorted: Vec<&[u8]> = patterns.iter().map(|p| p.as_slice()).collect();
        sorted.sort_unstable();
        sorted.dedup();

        // Insert in lexicographic order: a node's new child always sorts after
        // its existing ones, so the only child that can match is the last one.
        // This gives O(total bytes) construction with sorted child lists for free.
        let mut children: Vec<Vec<(u8, u32)>> = vec![Vec::new()];
        let mut depth: Vec<u32> = vec![0];
        for pat in sorted {
            let mut node = ROOT as usize;
            for &b in pat {
                let existing = match children[node].last() {
                    Some(&(lb, child)) if lb == b => Some(child),
                    _ => None,
                };
                node = match existing {
                    Some(child) => child as usize,
                    None => {
                        let child = children.len();
                        children.push(Vec::new());
                        depth.push(depth[node] + 1);
                        children[node].push((b, child as u32));
                        child
                    }
                };
            }
        }

        let n = children.len();
        let mut edge_start = Vec::with_capacity(n + 1);
        let mut edge_bytes = Vec::with_capacity(n);
        let mut edge_targets = Vec::with_capacity(n);
        for list in &children {
            edge_start.push(edge_bytes.len() as u32);
            for &(b, t) in list {
                edge_bytes.push(b);
                edge_targets.push(t);
            }
        }
        edge_start.push(edge_bytes.len() as u32);
        drop(children);

        let mut root_next = vec![ROOT; 256];
        for i in edge_start[0] as usize..edge_start[1] as usize {
            root_next[edge_bytes[i] as usize] = edge_targets[i];
        }

        let mut auto = PrefixAutomaton {
            edge_start,
            edge_bytes,
            edge_targets,
            root_next,
            fail: vec![ROOT; n],
            live_depth: vec![0; n],
        };

        // Breadth-first so that every failure target (strictly shallower) is
        // final before it is used.
        let mut queue = std::collections::VecDeque::with_capacity(n);
        queue.push_back(ROOT);
        while let Some(u) = queue.pop_front() {
            let has_children = auto.edge_range(u).is_some();
            auto.live_depth[u as usize] = if has_children {
                depth[u as usize]
            } else {
                auto.live_depth[auto.fail[u as usize] as usize]
            };
            if let Some(range) = auto.edge_range(u) {
                for i in range {
                    let (b, c) = (auto.edge_bytes[i], auto.edge_targets[i]);
                    auto.fail[c as usize] = if u == ROOT {
                        ROOT
                    } else {
                        auto.next(auto.fail[u as usize], b)
                    };
                    queue.push_back(c);
                }
            }
        }
        auto
    }

    fn edge_range(&self, node: u32) -> Option<std::ops::Range<usize>> {
        let lo = self.edge_start[node as usize] as usize;
        let hi = self.edge_start[node as usize + 1] as usize;
        (lo < hi).then_some(lo..hi)
    }

    fn child(&self, node: u32, b: u8) -> Option<u32> {
        if node == ROOT {
            let c = self.root_next[b as usize];
            return (c != ROOT).then_some(c);
        }
        let range = self.edge_range(node)?;
        let bytes = &self.edge_bytes[range.clone()];
        bytes
            .binary_search(&b)
            .ok()
            .map(|i| self.edge_targets[range.start + i])
    }

    fn next(&self, mut state: u32, b: u8) -> u32 {
        loop {
            if let Some(c) = self.child(state, b) {
                return c;
            }
            if state == ROOT {
                return ROOT;
            }
            state = self.fail[state as usize];
        }
    }

    /// Length of the longest suffix of `data` that is a proper prefix of
    /// some pattern. Cost is linear in `data.len()` (amortised over failure
    /// links), so callers pass only the tail that can matter.
    pub(crate) fn live_suffix_len(&self, data: &[u8]) -> usize {
        let mut state = ROOT;
        for &byte in data {
            state = self.next(state, byte);
        }
        self.live_depth[state as usize] as usize
    }

    pub(crate) fn memory_usage(&self) -> usize {
        self.edge_start.len() * 4
            + self.edge_bytes.len()
            + self.edge_targets.len() * 4
            + self.root_next.len() * 4
            + self.fail.len() * 4
            + self.live_depth.len() * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(patterns: &[&[u8]], data: &[u8]) -> usize {
        (0..=data.len())
            .find(|&i| {
                let s = &data[i..];
                !s.is_empty()
                    && patterns
                        .iter()
                        .any(|p| p.len() > s.len() && p.starts_with(s))
            })
            .map_or(0, |i| data.len() - i)
    }

    #[test]
    fn matches_naive_definition() {
        let pats: Vec<&[u8]> = vec![b"abcab", b"abc", b"bcd", b"cabx", b"aab"];
        let owned: Vec<Vec<u8>> = pats.iter().map(|p| p.to_vec()).collect();
        let auto = PrefixAutomaton::new(&owned);
        let alphabet = b"abcdx";
        // Every string up to length 6 over the alphabet.
        let mut stack: Vec<Vec<u8>> = vec![Vec::new()];
        while let Some(s) = stack.pop() {
            assert_eq!(auto.live_suffix_len(&s), naive(&pats, &s), "{s:?}");
            if s.len() < 6 {
                for &c in alphabet {
                    let mut t = s.clone();
                    t.push(c);
                    stack.push(t);
                }
            }
        }
    }

    #[test]
    fn complete_pattern_without_extension_is_not_live() {
        let auto = PrefixAutomaton::new(&[b"abcd".to_vec(), b"abcdef".to_vec(), b"zz".to_vec()]);
        assert_eq!(auto.live_suffix_len(b"xxabcd"), 4); // abcd could become abcdef
        assert_eq!(auto.live_suffix_len(b"xxzz"), 1); // "z" may start another zz
        assert_eq!(auto.live_suffix_len(b"abcdef"), 0);
        assert_eq!(auto.live_suffix_len(b""), 0);
    }
}
