//! The exporter's top-level modules import one way, down the path of a scrape: a module
//! may use those listed before it, never one after it (so there are no import circles).

use std::collections::BTreeSet;
use std::path::Path;

/// The top-level modules in path order; a leaf group shares a rank.
const ORDER: &[&[&str]] = &[
    &[
        "duration",
        "huge_pages",
        "quantity",
        "scope",
        "spare_buffers",
        "string_pool",
    ],
    &["config"],
    &["telemetry"],
    &["connect"],
    &["sources"],
    &["reading"],
    &["exposition"],
    &["web"],
    &["commands"],
    &["fuzzing"],
];

fn rank(module: &str) -> usize {
    ORDER
        .iter()
        .position(|group| group.contains(&module))
        .unwrap_or_else(|| panic!("top-level module {module:?} is not in ORDER"))
}

fn rust_files(dir: &Path, found: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// The top-level modules a file names as `crate::<module>`.
fn imported(text: &str) -> BTreeSet<String> {
    let mut modules = BTreeSet::new();
    for (at, _) in text.match_indices("crate::") {
        let preceded_by_ident = text[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_');
        if preceded_by_ident {
            continue;
        }
        let name: String = text[at + "crate::".len()..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            modules.insert(name);
        }
    }
    modules
}

#[test]
fn imports_run_down_the_path() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut wrong = Vec::new();
    let mut seen = BTreeSet::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let first = relative.components().next().unwrap().as_os_str();
        let module = first.to_str().unwrap().trim_end_matches(".rs").to_owned();
        if module == "main" || module == "lib" {
            continue;
        }
        seen.insert(module.clone());
        let text = std::fs::read_to_string(file).unwrap();
        for used in imported(&text) {
            if used != module && rank(&used) >= rank(&module) {
                wrong.push(format!("{} uses crate::{used}", relative.display()));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the path:\n{}",
        wrong.join("\n")
    );
    let listed: BTreeSet<String> = ORDER
        .iter()
        .flat_map(|g| g.iter().map(|m| m.to_string()))
        .collect();
    assert_eq!(seen, listed, "ORDER and src/ disagree");
}

#[test]
fn the_check_sees_imports() {
    let found =
        imported("use crate::web::routes;\nlet x = crate::quantity::parse(t);\nmy_crate::x");
    assert_eq!(
        found,
        BTreeSet::from(["quantity".to_owned(), "web".to_owned()])
    );
}
