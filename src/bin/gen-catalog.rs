//! Writes a seeded manufacturing catalog as batch files for `POST /ingest/{vertical}/{type}/batch`.
//!
//!     gen-catalog --count 100000 --seed 42 --batch-size 10000 --out ./catalog
//!
//! Each file is `NNNNN-<entity_type>.json` holding `{"records": [...]}`.

use std::io::Write;
use std::path::PathBuf;

use clap::Parser;
use qanatix::sample_catalog;

#[derive(Parser)]
#[command(about = "Generate a seeded manufacturing catalog as JSON batches")]
struct Args {
    /// Number of records.
    #[arg(long, default_value_t = 1000)]
    count: u64,
    /// Random seed: the same seed gives the same catalog.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Records per batch file (the API accepts at most 10,000).
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    batch_size: u64,
    /// Output directory (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Prefix of every `source_id` (default `gen<seed>`), so that catalogs of different seeds,
    /// and the sample catalog in data/sample, never overwrite each other's records.
    #[arg(long)]
    id_prefix: Option<String>,
}

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    std::fs::create_dir_all(&args.out)?;
    let mut files = 0;
    let prefix = args
        .id_prefix
        .clone()
        .unwrap_or_else(|| format!("gen{}", args.seed));
    for (i, (entity_type, mut records)) in
        sample_catalog::batches(args.seed, args.count, args.batch_size as usize).enumerate()
    {
        for r in &mut records {
            if let Some(id) = r["source_id"].as_str() {
                r["source_id"] = serde_json::json!(format!("{prefix}-{id}"));
            }
        }
        let path = args.out.join(format!("{:05}-{entity_type}.json", i + 1));
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path)?);
        serde_json::to_writer(&mut f, &serde_json::json!({ "records": records }))?;
        f.flush()?;
        files += 1;
    }
    eprintln!(
        "wrote {} records in {files} files to {}",
        args.count,
        args.out.display()
    );
    Ok(())
}
