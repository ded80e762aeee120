//! The library's modules import each other without circles (issue 14): a circle means no module
//! of it can be read, changed or tested without the others, and it is how a rule ends up living
//! in three places.
//!
//! This is our equivalent of `cargo modules dependencies --acyclic`, which needs rust-analyzer's
//! crates (minutes of build on CI's two cores): each file under `server/src` is a module; an
//! arrow goes from a module to every module it names through `use` or a `crate::`/`super::`/
//! `self::` path (the longest prefix that is a module file). `pub mod x;` declarations are not
//! arrows. Any strongly connected group of two or more modules fails the test, named with the
//! arrows that tie it, so the failure says what to move.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly by panicking"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Module = Vec<String>;

fn module_of(src: &Path, file: &Path) -> Option<Module> {
    let rel = file.strip_prefix(src).ok()?;
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop()?;
    match last.as_str() {
        "lib.rs" if parts.is_empty() => Some(Vec::new()),
        "main.rs" if parts.is_empty() => None,
        "mod.rs" => Some(parts),
        name => {
            parts.push(name.strip_suffix(".rs")?.to_owned());
            Some(parts)
        }
    }
}

pub(crate) fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The source without comments, string and char literals, so that a path in a doc comment or an
/// error message is not taken for an import.
fn code_only(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if c == b'r' && matches!(b.get(i + 1), Some(b'"' | b'#')) && !ident_before(b, i) {
            // A raw string: r"…", r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&b'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&b'"') {
                out.push(c as char);
                i += 1;
                continue;
            }
            j += 1;
            let closing: Vec<u8> = std::iter::once(b'"')
                .chain(std::iter::repeat_n(b'#', hashes))
                .collect();
            while j < b.len() && !b[j..].starts_with(&closing) {
                j += 1;
            }
            i = j + closing.len();
            out.push_str("\"\"");
        } else if c == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == b'\'' && b.get(i + 2) == Some(&b'\'') {
            i += 3;
            out.push_str("' '");
        } else if c == b'\'' && b.get(i + 1) == Some(&b'\\') {
            i += 2;
            while i < b.len() && b[i] != b'\'' {
                i += 1;
            }
            i += 1;
            out.push_str("' '");
        } else {
            // Copy one whole UTF-8 character.
            let len = text[i..].chars().next().map_or(1, char::len_utf8);
            out.push_str(&text[i..i + len]);
            i += len;
        }
    }
    out
}

fn ident_before(b: &[u8], i: usize) -> bool {
    i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')
}

/// Expands a use tree (`a::{b, c::{d, e}}`) into its paths.
fn expand_use(tree: &str) -> Vec<Vec<String>> {
    fn split_top(s: &str) -> Vec<&str> {
        let (mut depth, mut start, mut parts) = (0, 0, Vec::new());
        for (i, ch) in s.char_indices() {
            match ch {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    parts.push(&s[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        parts.push(&s[start..]);
        parts
    }
    let tree = tree.trim();
    let mut out = Vec::new();
    if let Some(open) = tree.find('{') {
        let prefix: Vec<String> = tree[..open]
            .trim()
            .trim_end_matches("::")
            .split("::")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
        for part in split_top(inner) {
            for tail in expand_use(part) {
                let mut p = prefix.clone();
                p.extend(tail);
                out.push(p);
            }
        }
    } else if let Some(path) = tree.split_whitespace().next() {
        // `path as alias`: the alias is not a module.
        out.push(
            path.split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        );
    }
    out
}

/// A path as written in module `here`, made absolute; `None` for other crates.
fn absolute(here: &Module, path: &[String], children: &BTreeSet<Module>) -> Option<Module> {
    let first = path.first()?;
    let mut base: Module = match first.as_str() {
        "crate" => Vec::new(),
        "self" => here.clone(),
        "super" => {
            let mut m = here.clone();
            let mut rest = path;
            while rest.first().is_some_and(|s| s == "super") {
                m.pop();
                rest = &rest[1..];
            }
            m.extend(rest.iter().cloned());
            return Some(m);
        }
        name => {
            // A child module named without `self::` (2018 paths).
            let mut child = here.clone();
            child.push(name.to_owned());
            if children.contains(&child) {
                here.clone()
            } else {
                return None;
            }
        }
    };
    let skip = usize::from(matches!(first.as_str(), "crate" | "self"));
    base.extend(path[skip..].iter().cloned());
    Some(base)
}

fn references(code: &str, children: &[String]) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    // `use` statements, with their trees.
    let mut rest = code;
    while let Some(pos) = find_keyword(rest, "use") {
        let after = &rest[pos + 3..];
        let end = after.find(';').unwrap_or(after.len());
        paths.extend(expand_use(&after[..end]));
        rest = &after[end..];
    }
    // Paths written inline.
    let b = code.as_bytes();
    let starts = ["crate::", "super::", "self::"].map(String::from);
    let child_starts = children.iter().map(|c| format!("{c}::"));
    for start in starts.into_iter().chain(child_starts) {
        let start = start.as_str();
        let mut from = 0;
        while let Some(pos) = code[from..].find(start) {
            let at = from + pos;
            from = at + start.len();
            if ident_before(b, at) || (at >= 2 && &code[at - 2..at] == "::") {
                continue;
            }
            let end = code[at..]
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .map_or(code.len(), |e| at + e);
            // `super::{a, b}` or `super::*`: the head of a use tree, which the use parser above
            // reads whole; taken alone it would name the parent module itself.
            if code[at..end].ends_with("::") {
                continue;
            }
            paths.push(
                code[at..end]
                    .split("::")
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
            );
        }
    }
    paths
}

fn find_keyword(s: &str, kw: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut from = 0;
    while let Some(pos) = s[from..].find(kw) {
        let at = from + pos;
        let before_ok = at == 0 || !(b[at - 1].is_ascii_alphanumeric() || b[at - 1] == b'_');
        let after_ok = b
            .get(at + kw.len())
            .is_some_and(|c| c.is_ascii_whitespace());
        if before_ok && after_ok {
            return Some(at);
        }
        from = at + kw.len();
    }
    None
}

/// Every arrow between the library's modules: (from, to) → the names that tie them.
fn arrows(src: &Path) -> BTreeMap<(String, String), BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let modules: BTreeMap<Module, PathBuf> = files
        .iter()
        .filter_map(|f| module_of(src, f).map(|m| (m, f.clone())))
        .collect();
    let known: BTreeSet<Module> = modules.keys().cloned().collect();
    let name = |m: &Module| {
        if m.is_empty() {
            "crate".to_owned()
        } else {
            m.join("::")
        }
    };
    let mut edges: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for (here, file) in &modules {
        if here.is_empty() {
            continue; // lib.rs only declares the modules.
        }
        let mut code = code_only(&std::fs::read_to_string(file).unwrap());
        // A file's unit tests (`#[cfg(test)] mod tests { use super::*; }`) name the file's own
        // module with `super`, and are not part of what the library depends on.
        if let Some(at) = code.find("#[cfg(test)]") {
            code.truncate(at);
        }
        // Child modules can be named without `self::` (2018 paths).
        let children: Vec<String> = known
            .iter()
            .filter(|m| m.len() == here.len() + 1 && m.starts_with(here))
            .filter_map(|m| m.last().cloned())
            .collect();
        for path in references(&code, &children) {
            let Some(abs) = absolute(here, &path, &known) else {
                continue;
            };
            let Some(target) = (1..=abs.len())
                .rev()
                .map(|n| abs[..n].to_vec())
                .find(|m| known.contains(m))
            else {
                continue;
            };
            if &target == here || target.is_empty() {
                continue;
            }
            let item = abs[target.len()..].join("::");
            edges
                .entry((name(here), name(&target)))
                .or_default()
                .insert(if item.is_empty() { "*".into() } else { item });
        }
    }
    edges
}

/// Tarjan's strongly connected components, largest circles first.
fn circles(edges: &BTreeMap<(String, String), BTreeSet<String>>) -> Vec<Vec<String>> {
    let mut graph: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (from, to) in edges.keys() {
        graph.entry(from).or_default().push(to);
        graph.entry(to).or_default();
    }
    struct State<'a> {
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        next: usize,
        found: Vec<Vec<String>>,
    }
    fn visit<'a>(v: &'a str, graph: &BTreeMap<&'a str, Vec<&'a str>>, s: &mut State<'a>) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        for &w in &graph[v] {
            if !s.index.contains_key(w) {
                visit(w, graph, s);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut group = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                group.push(w.to_owned());
                if w == v {
                    break;
                }
            }
            if group.len() > 1 {
                group.sort();
                s.found.push(group);
            }
        }
    }
    let mut s = State {
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        found: Vec::new(),
    };
    for &v in graph.keys() {
        if !s.index.contains_key(v) {
            visit(v, &graph, &mut s);
        }
    }
    s.found.sort_by_key(|g| std::cmp::Reverse(g.len()));
    s.found
}

fn describe(
    edges: &BTreeMap<(String, String), BTreeSet<String>>,
    groups: &[Vec<String>],
) -> String {
    let mut out = String::new();
    for group in groups {
        out.push_str(&format!("circle of {} modules:\n", group.len()));
        for ((from, to), names) in edges {
            if group.contains(from) && group.contains(to) {
                let names: Vec<&str> = names.iter().map(String::as_str).take(6).collect();
                out.push_str(&format!("  {from} -> {to}: {}\n", names.join(", ")));
            }
        }
    }
    out
}

#[test]
fn the_library_has_no_import_circles() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("server/src");
    let edges = arrows(&src);
    assert!(
        edges.len() > 20,
        "the check read too few arrows ({}): is the parser still right?",
        edges.len()
    );
    let groups = circles(&edges);
    assert!(
        groups.is_empty(),
        "server/src has import circles:\n{}",
        describe(&edges, &groups)
    );
}

/// The check can fail: a made-up pair of modules that import each other is found.
#[test]
fn the_circle_check_finds_a_circle() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    std::fs::create_dir_all(src.join("b")).unwrap();
    std::fs::write(src.join("lib.rs"), "pub mod a;\npub mod b;\npub mod c;\n").unwrap();
    std::fs::write(
        src.join("a.rs"),
        "use crate::b::{inner::Thing, Other};\n// crate::c::Nope is a comment\n",
    )
    .unwrap();
    std::fs::write(src.join("b/mod.rs"), "pub mod inner;\npub struct Other;\n").unwrap();
    std::fs::write(
        src.join("b/inner.rs"),
        "pub struct Thing;\nfn f() { let _ = crate::a::g(); let _s = \"crate::c::x\"; }\n",
    )
    .unwrap();
    std::fs::write(src.join("c.rs"), "use super::a;\n").unwrap();
    let edges = arrows(src);
    let groups = circles(&edges);
    assert_eq!(groups, vec![vec!["a".to_owned(), "b::inner".to_owned()]]);
    assert!(edges.contains_key(&("c".into(), "a".into())));
    assert!(!edges.keys().any(|(_, to)| to == "c"), "{edges:?}");
}

/// The files outside `app/scope.rs` (and the store, which answers it) that walk the court tree
/// themselves: `court_within` or `court_ancestors` called in their code.
fn tree_walkers(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut found: Vec<String> = files
        .iter()
        .filter(|f| !f.starts_with(src.join("store")) && !f.ends_with("app/scope.rs"))
        .filter(|f| {
            let code = code_only(&std::fs::read_to_string(f).unwrap());
            code.contains(".court_within(") || code.contains(".court_ancestors(")
        })
        .map(|f| f.strip_prefix(src).unwrap().display().to_string())
        .collect();
    found.sort();
    found
}

/// "This court or one below it" is asked of `app::scope` only (issue 14). Before this test, ten
/// files outside it (tasks, directories, clocks, the ledger, sessions, campaigns, calendars,
/// settings, unlocking) asked the store themselves, each in its own words.
#[test]
fn only_scope_walks_the_court_tree() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("server/src");
    assert_eq!(
        tree_walkers(&src),
        Vec::<String>::new(),
        "these files ask the store about the court tree themselves: call app::scope instead"
    );
}

/// The check can fail: a file that calls the store's tree walk is named, one that mentions it
/// in a comment is not.
#[test]
fn the_tree_check_finds_a_walker() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    std::fs::create_dir_all(src.join("app")).unwrap();
    std::fs::create_dir_all(src.join("store")).unwrap();
    std::fs::write(
        src.join("app/scope.rs"),
        "fn f() { store.court_within(1, 2); }",
    )
    .unwrap();
    std::fs::write(
        src.join("store/mod.rs"),
        "fn court_within() {} fn g() { self.court_ancestors(1); }",
    )
    .unwrap();
    std::fs::write(
        src.join("app/tasks.rs"),
        "// store.court_within(a, b) is scope's\nfn f() { let up = store.court_ancestors(3); }",
    )
    .unwrap();
    std::fs::write(src.join("app/quiet.rs"), "// store.court_within(a, b)\n").unwrap();
    assert_eq!(tree_walkers(src), vec!["app/tasks.rs".to_owned()]);
}
