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

        // Nodes are created in lexicographic (depth-first) order, so each
        // node's children are created in increasing byte order; recording
        // (parent, byte) per node lets a counting pass lay them out as CSR.
        let mut parent: Vec<u32> = vec![ROOT];
        let mut byte: Vec<u8> = vec![0];
        let mut terminal: Vec<u32> = vec![NONE];
        // Nodes along the previous pattern: path[d] is the node at depth d.
        let mut path: Vec<u32> = vec![ROOT];
        let mut previous: &[u8] = &[];
        for &id in &order {
            let pat = patterns[id as usize].as_slice();
            if pat.is_empty() {
                continue;
            }
            let shared = pat.iter().zip(previous).take_while(|(a, b)| a == b).count();
            path.truncate(shared + 1);
            for &b in &pat[shared..] {
                let node = parent.len() as u32;
                parent.push(*path.last().unwrap_or(&ROOT));
                byte.push(b);
                terminal.push(NONE);
                path.push(node);
            }
            let end = *path.last().unwrap_or(&ROOT) as usize;
            if terminal[end] == NONE {
                terminal[end] = id;
            }
            previous = pat;
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
        }
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
        for (i, &b) in data.iter().enumerate() {
            match self.child(node, b) {
                Some(c) => node = c,
                None => break,
            }
            let id = self.terminal[node as usize];
            if id != NONE {
                best = Some((i + 1, id));
            }
        }
        best
    }

    /// Whether `data` (non-empty) is a proper prefix of some pattern: all of
    /// it lies on a path of the trie that goes on. A complete pattern that
    /// no other extends is not live: that match is final.
    #[inline]
    pub(crate) fn is_live(&self, data: &[u8]) -> bool {
        let mut node = ROOT;
        for &b in data {
            match self.child(node, b) {
                Some(c) => node = c,
                None => return false,
            }
        }
        node != ROOT && self.edge_start[node as usize] < self.edge_start[node as usize + 1]
    }

    pub(crate) fn memory_usage(&self) -> usize {
        self.edge_start.len() * 4
            + self.edge_bytes.len()
            + self.edge_targets.len() * 4
            + self.root_next.len() * 4
            + self.terminal.len() * 4
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
