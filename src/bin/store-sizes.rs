//! Where a data dir's bytes go: entries and key/value bytes per store tree (and per key kind in
//! the `entities` tree), against the size of the files on disk.
//!
//!     store-sizes DATA_DIR
//!
//! The store takes an exclusive lock and may write while it opens, so the tool opens a copy of
//! `DATA_DIR/store` in a temporary directory; run it on a stopped server's data dir.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Parser;

#[derive(Parser)]
#[command(about = "Per-tree entry counts and bytes of a qanatix data dir, against its files")]
struct Args {
    /// The data dir (as given to `qanatix --data-dir`).
    data_dir: PathBuf,
}

#[derive(Default)]
struct Sum {
    entries: u64,
    keys: u64,
    values: u64,
}

impl Sum {
    fn add(&mut self, k: &[u8], v: &[u8]) {
        self.entries += 1;
        self.keys += k.len() as u64;
        self.values += v.len() as u64;
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let db_dir = qanatix::store::db_path(&args.data_dir);
    if !db_dir.is_dir() {
        return Err(format!("{} holds no qanatix store", args.data_dir.display()).into());
    }

    println!("files on disk");
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(&db_dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        *files.entry(name).or_insert(0u64) += dir_size(&entry.path())?;
    }
    for (name, bytes) in &files {
        println!("  store/{name:<21} {:>12}", mb(*bytes));
    }
    let index = args.data_dir.join("index");
    if index.is_dir() {
        println!("  {:<27} {:>12}", "index/ (tantivy)", mb(dir_size(&index)?));
    }
    println!("  {:<27} {:>12}", "data dir", mb(dir_size(&args.data_dir)?));

    let copy = std::env::temp_dir().join(format!("store-sizes-{}", std::process::id()));
    copy_dir(&db_dir, &qanatix::store::db_path(&copy))?;
    let result = report_trees(&copy);
    std::fs::remove_dir_all(&copy)?;
    result
}

fn report_trees(copy: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let db = qanatix::store::open_db(copy)?;

    println!();
    println!(
        "{:<28} {:>10} {:>12} {:>12} {:>12}",
        "tree", "entries", "key bytes", "value bytes", "total"
    );
    let mut total = Sum::default();
    for name in db.tree_names() {
        let tree = db.open_tree(&name)?;
        let label = String::from_utf8_lossy(&name).into_owned();
        let mut sum = Sum::default();
        // The entities tree holds several key kinds, told apart by their first byte.
        let mut kinds: BTreeMap<u8, Sum> = BTreeMap::new();
        // Entity records stored compressed (their first byte is 2) and their bytes.
        let mut compressed = Sum::default();
        for item in tree.iter() {
            let (k, v) = item?;
            sum.add(&k, &v);
            if label == "entities" {
                let kind = k.first().copied().unwrap_or(0);
                kinds.entry(kind).or_default().add(&k, &v);
                if kind == b'e' && v.first() == Some(&2) {
                    compressed.add(&k, &v);
                }
            }
        }
        total.entries += sum.entries;
        total.keys += sum.keys;
        total.values += sum.values;
        print_row(&label, &sum);
        for (kind, s) in &kinds {
            print_row(&format!("  entities '{}'", char::from(*kind)), s);
            if *kind == b'e' {
                print_row("    of which compressed", &compressed);
            }
        }
    }
    print_row("all trees", &total);
    Ok(())
}

fn print_row(label: &str, s: &Sum) {
    println!(
        "{label:<28} {:>10} {:>12} {:>12} {:>12}",
        s.entries,
        mb(s.keys),
        mb(s.values),
        mb(s.keys + s.values)
    );
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

fn dir_size(path: &Path) -> std::io::Result<u64> {
    let meta = std::fs::symlink_metadata(path)?;
    if !meta.is_dir() {
        // Allocated blocks, not the apparent length: sparse files count what they hold.
        use std::os::unix::fs::MetadataExt;
        return Ok(meta.blocks() * 512);
    }
    let mut total = 0;
    for entry in std::fs::read_dir(path)? {
        total += dir_size(&entry?.path())?;
    }
    Ok(total)
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}
