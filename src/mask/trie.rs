//! The exact matcher: a byte trie of every pattern, walked from one start.
//!
//! The filter names the few offsets where an occurrence may start; at each,
//! the masker asks two questions that a plain trie answers by walking down
//! from the root, one edge per byte, until the bytes leave it:
//! - which is the longest pattern starting here (`longest_at`);
//! - could the tail from here still grow into a pattern (`is_live`).
//!
//! No failure links: every question is anchored at a given start, so the
//! build is one pass over the sorted patterns and a walk ends at the first
//! byte no pattern continues with (a false candidate costs a byte or two).
//!
//! Below the depth where a pattern parts from all others, the trie stores no
//! nodes for it, only a reference to its remaining bytes ("tail"). A walk
//! along a real occurrence then costs a few nodes and one comparison instead
//! of one node per byte, each likely a cache miss: with thousands of
//! 20-60 byte patterns those per-byte walks were most of the masker's time.

/// Trie in CSR form: the children of node `n` are
/// `edge_bytes/edge_targets[edge_start[n]..edge_start[n + 1]]`, sorted by
/// byte.
#[derive(Debug, Default)]
pub(crate) struct PatternTrie {
    edge_start: Vec<u32>,
    edge_bytes: Vec<u8>,
    edge_targets: Vec<u32>,
    /// The root's children by byte (0 = none): the root is where every walk
    /// starts and has the most children.
    root_next: Vec<u32>,
    /// For each node, the id of the pattern ending there, or `NONE`.
    terminal: Vec<u32>,
    /// For each node, the id of the only pattern below it, or `NONE`: its
    /// bytes past the node's depth are the whole subtree (no child nodes).
    tail: Vec<u32>,
    /// Every pattern's bytes, pattern `i` at `bytes[starts[i]..starts[i + 1]]`.
    bytes: Vec<u8>,
    starts: Vec<u32>,
}

const ROOT: u32 = 0;
const NONE: u32 = u32::MAX;

impl PatternTrie {
    /// Build from patterns, whose ids are their indices. Empty patterns are
    /// ignored; of equal patterns the first id wins.
    pub(crate) fn new(patterns: &[Vec<u8>]) -> PatternTrie {
        let mut order: Vec<u32> = (0..patterns.len() as u32).collect();
        // Stable, so equal patterns keep id order and the first one wins.
        order.sort_by(|&a, &b| patterns[a as usize].cmp(&patterns[b as usize]));
        let sorted = |i: usize| patterns[order[i] as usize].as_slice();
        // shared[i]: common prefix length of sorted patterns i - 1 and i.
        let shared: Vec<usize> = (0..order.len())
            .map(|i| {
                if i == 0 {
                    return 0;
                }
                let (a, b) = (sorted(i - 1), sorted(i));
                a.iter().zip(b).take_while(|(x, y)| x == y).count()
            })
            .collect();

        // Nodes are created in lexicographic (depth-first) order, so each
        // node's children are created in increasing byte order; recording
        // (parent, byte) per node lets a counting pass lay them out as CSR.
        let mut parent: Vec<u32> = vec![ROOT];
        let mut byte: Vec<u8> = vec![0];
        let mut terminal: Vec<u32> = vec![NONE];
        let mut tail: Vec<u32> = vec![NONE];
        // Nodes along the previous pattern: path[d] is the node at depth d.
        let mut path: Vec<u32> = vec![ROOT];
        for (i, &id) in order.iter().enumerate() {
            let pat = sorted(i);
            if pat.is_empty() {
                continue;
            }
            // The pattern shares its first `shared` bytes with a neighbour in
            // sorted order (and so with any other pattern at most that many):
            // one byte more makes its own node, and the rest is its tail.
            let next = shared.get(i + 1).copied().unwrap_or(0);
            let own_depth = pat.len().min(shared[i].max(next) + 1);
            path.truncate(shared[i] + 1);
            for &b in &pat[shared[i].min(own_depth)..own_depth] {
                let node = parent.len() as u32;
                parent.push(*path.last().unwrap_or(&ROOT));
                byte.push(b);
                terminal.push(NONE);
                tail.push(NONE);
                path.push(node);
            }
            let end = *path.last().unwrap_or(&ROOT) as usize;
            if own_depth < pat.len() {
                tail[end] = id;
            } else if terminal[end] == NONE {
                terminal[end] = id;
            }
        }
        let mut starts = Vec::with_capacity(patterns.len() + 1);
        let mut bytes = Vec::with_capacity(patterns.iter().map(Vec::len).sum());
        starts.push(0);
        for p in patterns {
            bytes.extend_from_slice(p);
            starts.push(bytes.len() as u32);
        }

        let n = parent.len();
        let mut edge_start = vec![0u32; n + 1];
        for &p in &parent[1..] {
            edge_start[p as usize + 1] += 1;
        }
        for i in 0..n {
            edge_start[i + 1] += edge_start[i];
        }
        let mut fill = edge_start.clone();
        let mut edge_bytes = vec![0u8; n - 1];
        let mut edge_targets = vec![0u32; n - 1];
        for node in 1..n {
            let slot = &mut fill[parent[node] as usize];
            edge_bytes[*slot as usize] = byte[node];
            edge_targets[*slot as usize] = node as u32;
            *slot += 1;
        }
        let mut root_next = vec![ROOT; 256];
        for i in edge_start[0] as usize..edge_start[1] as usize {
            root_next[edge_bytes[i] as usize] = edge_targets[i];
        }
        PatternTrie {
            edge_start,
            edge_bytes,
            edge_targets,
            root_next,
            terminal,
            tail,
            bytes,
            starts,
        }
    }

    /// The bytes of pattern `id` past its first `depth`.
    #[inline]
    fn rest(&self, id: u32, depth: usize) -> &[u8] {
        let (lo, hi) = (self.starts[id as usize], self.starts[id as usize + 1]);
        &self.bytes[lo as usize + depth..hi as usize]
    }

    #[inline]
    fn child(&self, node: u32, b: u8) -> Option<u32> {
        if node == ROOT {
            let c = self.root_next[b as usize];
            return (c != ROOT).then_some(c);
        }
        let lo = self.edge_start[node as usize] as usize;
        let hi = self.edge_start[node as usize + 1] as usize;
        let bytes = &self.edge_bytes[lo..hi];
        // Below the first levels nearly every node has one child.
        if bytes.len() == 1 {
            return (bytes[0] == b).then(|| self.edge_targets[lo]);
        }
        bytes
            .binary_search(&b)
            .ok()
            .map(|i| self.edge_targets[lo + i])
    }

    /// The longest pattern that `data` starts with: `(length, pattern id)`.
    #[inline]
    pub(crate) fn longest_at(&self, data: &[u8]) -> Option<(usize, u32)> {
        let mut node = ROOT;
        let mut best = None;
        let mut depth = 0;
        loop {
            let only = self.tail[node as usize];
            if only != NONE {
                let rest = self.rest(only, depth);
                if data[depth..].starts_with(rest) {
                    best = Some((depth + rest.len(), only));
                }
                return best;
            }
            let Some(&b) = data.get(depth) else {
                return best;
            };
            match self.child(node, b) {
                Some(c) => node = c,
                None => return best,
            }
            depth += 1;
            let id = self.terminal[node as usize];
            if id != NONE {
                best = Some((depth, id));
            }
        }
    }

    /// Whether `data` (non-empty) is a proper prefix of some pattern: all of
    /// it lies on a path of the trie that goes on. A complete pattern that
    /// no other extends is not live: that match is final.
    #[inline]
    pub(crate) fn is_live(&self, data: &[u8]) -> bool {
        let mut node = ROOT;
        for (depth, &b) in data.iter().enumerate() {
            let only = self.tail[node as usize];
            if only != NONE {
                let rest = self.rest(only, depth);
                return rest.len() > data.len() - depth && rest.starts_with(&data[depth..]);
            }
            match self.child(node, b) {
                Some(c) => node = c,
                None => return false,
            }
        }
        node != ROOT
            && (self.tail[node as usize] != NONE
                || self.edge_start[node as usize] < self.edge_start[node as usize + 1])
    }

    pub(crate) fn memory_usage(&self) -> usize {
        self.edge_start.len() * 4
            + self.edge_bytes.len()
            + self.edge_targets.len() * 4
            + self.root_next.len() * 4
            + self.terminal.len() * 4
            + self.tail.len() * 4
            + self.bytes.len()
            + self.starts.len() * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_longest(patterns: &[&[u8]], data: &[u8]) -> Option<(usize, u32)> {
        patterns
            .iter()
            .enumerate()
            .filter(|(_, p)| !p.is_empty() && data.starts_with(p))
            .max_by_key(|(i, p)| (p.len(), std::cmp::Reverse(*i)))
            .map(|(i, p)| (p.len(), i as u32))
    }

    fn naive_live(patterns: &[&[u8]], data: &[u8]) -> bool {
        !data.is_empty()
            && patterns
                .iter()
                .any(|p| p.len() > data.len() && p.starts_with(data))
    }

    #[test]
    fn matches_naive_definitions() {
        let pats: Vec<&[u8]> = vec![b"abcab", b"abc", b"bcd", b"cabx", b"aab", b"abc", b"a"];
        let owned: Vec<Vec<u8>> = pats.iter().map(|p| p.to_vec()).collect();
        let trie = PatternTrie::new(&owned);
        let alphabet = b"abcdx";
        // Every string up to length 6 over the alphabet.
        let mut stack: Vec<Vec<u8>> = vec![Vec::new()];
        while let Some(s) = stack.pop() {
            assert_eq!(trie.longest_at(&s), naive_longest(&pats, &s), "{s:?}");
            assert_eq!(trie.is_live(&s), naive_live(&pats, &s), "{s:?}");
            if s.len() < 6 {
                for &c in alphabet {
                    let mut t = s.clone();
                    t.push(c);
                    stack.push(t);
                }
            }
        }
    }

    /// Tails (patterns below the depth where they part from the others)
    /// answer like full paths: random pattern sets over a small alphabet,
    /// every probe a prefix, extension or near miss of some pattern.
    #[test]
    fn tails_match_naive_definitions() {
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for _ in 0..200 {
            let owned: Vec<Vec<u8>> = (0..1 + next(12))
                .map(|_| {
                    (0..1 + next(10))
                        .map(|_| b"abc"[next(3) as usize])
                        .collect()
                })
                .collect();
            let pats: Vec<&[u8]> = owned.iter().map(Vec::as_slice).collect();
            let trie = PatternTrie::new(&owned);
            for p in &owned {
                for cut in 0..=p.len() {
                    for extra in [&b""[..], b"a", b"c", b"ab", b"cc"] {
                        let mut s = p[..cut].to_vec();
                        s.extend_from_slice(extra);
                        assert_eq!(trie.longest_at(&s), naive_longest(&pats, &s), "{s:?}");
                        assert_eq!(trie.is_live(&s), naive_live(&pats, &s), "{s:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn complete_pattern_without_extension_is_not_live() {
        let trie = PatternTrie::new(&[b"abcd".to_vec(), b"abcdef".to_vec(), b"zz".to_vec()]);
        assert!(trie.is_live(b"abcd")); // could become abcdef
        assert!(trie.is_live(b"z"));
        assert!(!trie.is_live(b"zz"));
        assert!(!trie.is_live(b"abcdef"));
        assert!(!trie.is_live(b""));
        assert_eq!(trie.longest_at(b"abcdefgh"), Some((6, 1)));
        assert_eq!(trie.longest_at(b"abcdx"), Some((4, 0)));
        assert_eq!(trie.longest_at(b"xabcd"), None);
    }
}
