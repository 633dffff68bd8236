//! The dependency directions between the runtime's modules, as written down
//! in `runtime/src/lib.rs` ("Dependency directions"), hold in the code: every
//! `crate::<module>` path outside test modules points to a lower level.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// The levels of `runtime/src/lib.rs`, top first. Modules of the same level
/// may import each other only inside the scheduler unit.
const LEVELS: &[&[&str]] = &[
    &["lib", "runtime"],
    &["timer_seam", "leak"],
    &["io"],
    &["scheduler", "context", "blocking"],
    &["time"],
    &["task"],
    &["config", "error"],
    &["registry"],
    &["tokio_compat"],
    &["loom"],
];

/// The level of the scheduler unit (`scheduler`, `context`, `blocking`).
const SCHEDULER_UNIT: usize = 3;

fn level(module: &str) -> Option<usize> {
    LEVELS.iter().position(|l| l.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a source file belongs to (`lib` for the crate root).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

/// The code lines of `text` up to its first test-only module (`#[cfg(..test..)]`
/// before `mod`: test modules end their files, and may import anything),
/// without comments.
fn code_lines(text: &str) -> Vec<&str> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim_start();
        let next = lines.get(i + 1).map_or("", |l| l.trim_start());
        if t.starts_with("#[cfg(") && t.contains("test") && next.starts_with("mod ") {
            break;
        }
        let code = match t.find("//") {
            Some(at) => &t[..at],
            None => t,
        };
        out.push(code);
    }
    out
}

/// The modules named by `crate::<name>` paths in `line` (a name that is not
/// a module is an item of the crate root: `lib`).
fn imports(line: &str, modules: &BTreeSet<String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if name.is_empty() {
            // `crate::{a, b}`: a grouped import.
            if let Some(group) = rest.strip_prefix('{') {
                let end = group.find('}').unwrap_or(group.len());
                for part in group[..end].split(',') {
                    let part = part.trim();
                    let name: String = part
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() {
                        out.push(name);
                    }
                }
            }
            continue;
        }
        out.push(name);
    }
    out.into_iter()
        .map(|n| {
            if modules.contains(&n) {
                n
            } else {
                "lib".to_string()
            }
        })
        .collect()
}

#[test]
fn runtime_modules_import_only_lower_levels() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(&src, f)).collect();
    for m in &modules {
        assert!(
            level(m).is_some(),
            "module `{m}` is missing from LEVELS and from lib.rs's list"
        );
    }
    let mut violations = Vec::new();
    for file in &files {
        if file
            .file_name()
            .is_some_and(|n| n == "tests.rs" || n == "loom_tests.rs")
        {
            continue;
        }
        let from = module_of(&src, file);
        let from_level = level(&from).unwrap();
        let text = fs::read_to_string(file).unwrap();
        for line in code_lines(&text) {
            for to in imports(line, &modules) {
                if to == from {
                    continue;
                }
                let to_level = level(&to).unwrap();
                let same_unit = to_level == from_level && from_level == SCHEDULER_UNIT;
                if to_level <= from_level && !same_unit {
                    violations.push(format!(
                        "{}: `{from}` (level {from_level}) imports `{to}` (level {to_level}): {}",
                        file.strip_prefix(&src).unwrap().display(),
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(
        violations.is_empty(),
        "imports against the directions in runtime/src/lib.rs:\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_checker_sees_grouped_and_root_imports() {
    let modules: BTreeSet<String> = ["task", "registry"].iter().map(|s| s.to_string()).collect();
    assert_eq!(
        imports("use crate::{task, registry::Registry};", &modules),
        ["task", "registry"]
    );
    assert_eq!(imports("crate::spawn(fut)", &modules), ["lib"]);
    assert_eq!(
        code_lines("a // crate::task\n#[cfg(test)]\nmod tests {\nuse crate::x;"),
        ["a "]
    );
}
