//! `qanatix import FILE --collection C --type T`: streams a file from disk to the server's file
//! upload route (`/upload/{c}/{t}/file`, or `/pdf`; API-RECORDS.md §2) as multipart bodies of
//! known length, with progress, then prints the server's summary. The file is never read into
//! memory whole. The server holds one upload (≤ 50 MB) at a time, so a larger CSV or NDJSON
//! file goes as several uploads cut at record boundaries ([`parts`]); other formats that large
//! are refused here before anything is sent.

use std::fs::File;
use std::io::{Cursor, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use serde::Deserialize;
use serde_json::Value;

use super::client::{Body, Client};
use super::outcome::{finish, Failure, EXIT_ROWS_REJECTED};
use super::parts::{self, Plan};
use super::progress::{bytes, Progress, RecordCounter};
use super::Remote;
use crate::api::ingest::INGEST_BODY_LIMIT;

#[derive(Debug, Args)]
#[command(after_help = super::EXIT_CODES_HELP)]
pub struct ImportArgs {
    /// The file to upload (CSV, JSON array, NDJSON, BMEcat or SAP IDoc XML, PDF).
    pub file: PathBuf,

    /// Collection (vertical) the records go to.
    #[arg(long, short = 'c')]
    pub collection: String,

    /// Record type (entity type) of the records.
    #[arg(long = "type", short = 't', value_name = "TYPE")]
    pub record_type: String,

    /// File format; by default from the file's extension.
    #[arg(long, value_enum)]
    pub format: Option<Format>,

    /// CSV column holding each record's name (the server's default: `name`).
    #[arg(long)]
    pub name_column: Option<String>,

    /// Print the server's answer as JSON on stdout instead of the summary.
    #[arg(long)]
    pub json: bool,

    /// No progress output.
    #[arg(long, short = 'q')]
    pub quiet: bool,

    /// Largest upload in bytes (suffix k or M allowed); a larger CSV or NDJSON file is sent
    /// as several uploads, split at record boundaries. Default and maximum: the server's
    /// 50 MB limit.
    #[arg(long, value_parser = parse_part_size)]
    pub part_size: Option<u64>,

    #[command(flatten)]
    pub remote: Remote,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Csv,
    Json,
    Ndjson,
    Xml,
    Pdf,
}

impl Format {
    fn from_extension(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        Some(match ext.as_str() {
            "csv" | "tsv" => Format::Csv,
            "json" => Format::Json,
            "ndjson" | "jsonl" => Format::Ndjson,
            "xml" => Format::Xml,
            "pdf" => Format::Pdf,
            _ => return None,
        })
    }

    fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Json => "json",
            Format::Ndjson => "ndjson",
            Format::Xml => "xml",
            Format::Pdf => "pdf",
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv",
            Format::Json => "application/json",
            Format::Ndjson => "application/x-ndjson",
            Format::Xml => "application/xml",
            Format::Pdf => "application/pdf",
        }
    }

    fn counter(self) -> RecordCounter {
        match self {
            Format::Csv => RecordCounter::csv(),
            Format::Json => RecordCounter::json_array(),
            Format::Ndjson => RecordCounter::ndjson(),
            Format::Xml | Format::Pdf => RecordCounter::Unknown,
        }
    }

    /// The upload route's last segment.
    fn route(self) -> &'static str {
        match self {
            Format::Pdf => "pdf",
            _ => "file",
        }
    }
}

fn parse_part_size(raw: &str) -> Result<u64, String> {
    let raw = raw.trim();
    let (digits, unit) = match raw.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => raw.split_at(i),
        None => (raw, ""),
    };
    let unit = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1024,
        "m" | "mb" => 1024 * 1024,
        _ => return Err(format!("'{raw}' is not a size such as 4096, 512k or 20M")),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("'{raw}' is not a size such as 4096, 512k or 20M"))?;
    match n.checked_mul(unit) {
        Some(size) if (1024..=INGEST_BODY_LIMIT as u64).contains(&size) => Ok(size),
        _ => Err(format!(
            "the part size must be between 1k and the server's limit of {} bytes",
            INGEST_BODY_LIMIT
        )),
    }
}

/// Seconds `import` waits by default: the server answers only once it has stored the whole
/// file, which for 50 MB on a busy or slow machine can take minutes.
const IMPORT_TIMEOUT: u64 = 3600;

pub fn run_import(args: ImportArgs) -> std::process::ExitCode {
    finish("import", import(&args))
}

/// The file's name as sent in the multipart part. The server tells formats by extension first,
/// so a name whose extension says another format gets the right one appended.
fn part_file_name(path: &Path, format: Format) -> String {
    let name: String = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .map(|c| if c == '"' || c == '\\' { '_' } else { c })
        .collect();
    match Format::from_extension(Path::new(&name)) {
        Some(f) if f == format => name,
        _ if name.is_empty() => format!("upload.{}", format.extension()),
        _ => format!("{name}.{}", format.extension()),
    }
}

/// The multipart body around the file's bytes: what goes before them and what after.
fn multipart_frame(
    boundary: &str,
    file_name: &str,
    format: Format,
    name_column: Option<&str>,
) -> (Vec<u8>, Vec<u8>) {
    let mut head = String::new();
    if let Some(column) = name_column {
        head.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"name_column\"\r\n\r\n{column}\r\n"
        ));
    }
    head.push_str(&format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: {}\r\n\r\n",
        format.content_type()
    ));
    let tail = format!("\r\n--{boundary}--\r\n");
    (head.into_bytes(), tail.into_bytes())
}

fn import(args: &ImportArgs) -> Result<u8, Failure> {
    let path = &args.file;
    let format = match args.format {
        Some(f) => f,
        None => Format::from_extension(path).ok_or_else(|| {
            Failure::usage(format!(
                "cannot tell the format of {} from its extension: pass --format csv|json|ndjson|xml|pdf",
                path.display()
            ))
        })?,
    };
    let file = File::open(path)
        .map_err(|e| Failure::usage(format!("cannot open {}: {e}", path.display())))?;
    let meta = file
        .metadata()
        .map_err(|e| Failure::usage(format!("cannot read {}: {e}", path.display())))?;
    if !meta.is_file() {
        return Err(Failure::usage(format!("{} is not a file", path.display())));
    }
    if let Some(column) = &args.name_column {
        if column.trim().is_empty() || column.chars().any(char::is_control) {
            return Err(Failure::usage("--name-column must be a column name"));
        }
    }

    let boundary = format!("qanatix-{}", hex::encode(rand::random::<[u8; 16]>()));
    let file_name = part_file_name(path, format);
    let (head, tail) = multipart_frame(&boundary, &file_name, format, args.name_column.as_deref());
    let size = meta.len();
    let part_size = args.part_size.unwrap_or(INGEST_BODY_LIMIT as u64);
    let budget = part_size.saturating_sub((head.len() + tail.len()) as u64);
    let plan = split(path, format, size, budget)?;

    // The server's own rule for the names, checked here because a server that refuses a
    // request before reading its body can only close the connection under a large upload.
    let slug = |flag: &str, raw: &str| {
        crate::entity_input::slug(flag, raw).map_err(|e| Failure::usage(e.to_string()))
    };
    let collection = slug("--collection", &args.collection)?;
    let record_type = slug("--type", &args.record_type)?;

    let client = Client::new(&args.remote, IMPORT_TIMEOUT)?;
    preflight(&client)?;

    let url = client.api(&["upload", &collection, &record_type, format.route()]);
    let content_type = format!("multipart/form-data; boundary={boundary}");
    let header = read_header(path, plan.header_len)?;
    let mut file = file;
    let mut progress = Progress::new(size, format.counter(), args.quiet || args.json);
    let mut answers = Vec::with_capacity(plan.ranges.len());
    for (i, &(start, end)) in plan.ranges.iter().enumerate() {
        file.seek(SeekFrom::Start(start))
            .map_err(|e| Failure::usage(format!("cannot read {}: {e}", path.display())))?;
        let header = if start > 0 { &header[..] } else { &[][..] };
        let length = (head.len() + header.len() + tail.len()) as u64 + (end - start);
        let reader = Cursor::new(&head[..])
            .chain(header)
            .chain(progress.track((&mut file).take(end - start)))
            .chain(Cursor::new(&tail[..]));
        let body = Body::Stream {
            content_type: &content_type,
            length,
            reader: Box::new(reader),
        };
        // The answer comes once the server has stored every record: a 2xx means durable.
        let answer = if args.json {
            client.json_as("POST", &url, body).map(Answer::Raw)
        } else {
            client.json_as("POST", &url, body).map(Answer::Summary)
        };
        match answer {
            Ok(a) => answers.push(a),
            Err(e) => {
                progress.done();
                if i > 0 {
                    eprintln!(
                        "qanatix import: parts 1 to {i} of {} were stored (bytes 0..{start}); upload ids: {}",
                        plan.ranges.len(),
                        answers.iter().map(Answer::upload_id).collect::<Vec<_>>().join(", ")
                    );
                }
                return Err(broken_upload(e));
            }
        }
    }
    progress.done();

    let mut rejected = 0;
    let mut summaries = Vec::new();
    let mut raw = Vec::new();
    for answer in answers {
        match answer {
            Answer::Raw(v) => {
                rejected += v["summary"]["rejected"].as_u64().unwrap_or(0);
                raw.push(v);
            }
            Answer::Summary(a) => {
                rejected += a.summary.rejected;
                summaries.push(a);
            }
        }
    }
    match raw.len() {
        0 => {}
        1 => println!("{:#}", raw[0]),
        _ => println!("{:#}", Value::Array(raw)),
    }
    if !summaries.is_empty() {
        let target = format!("{collection}/{record_type}");
        print_summary(&client, args, &target, &summaries, progress.elapsed());
    }
    Ok(if rejected > 0 { EXIT_ROWS_REJECTED } else { 0 })
}

/// The file's parts: the whole file when it fits in one upload; CSV and NDJSON are split at
/// record boundaries otherwise; other formats cannot be split.
fn split(path: &Path, format: Format, size: u64, budget: u64) -> Result<Plan, Failure> {
    if size <= budget {
        return Ok(Plan {
            header_len: 0,
            ranges: vec![(0, size)],
        });
    }
    if !matches!(format, Format::Csv | Format::Ndjson) {
        return Err(Failure::usage(format!(
            "{} is {}, over one upload ({}), and only CSV and NDJSON files are split into \
             several: split it into smaller files",
            path.display(),
            bytes(size),
            bytes(budget)
        )));
    }
    let file = File::open(path)
        .map_err(|e| Failure::usage(format!("cannot open {}: {e}", path.display())))?;
    parts::plan(file, format == Format::Csv, budget)
        .map_err(|e| Failure::usage(format!("cannot read {}: {e}", path.display())))?
        .map_err(|e| Failure::usage(format!("cannot split {}: {e}", path.display())))
}

/// The CSV header line sent again before each part after the first.
fn read_header(path: &Path, len: u64) -> Result<Vec<u8>, Failure> {
    let mut header = Vec::new();
    if len > 0 {
        File::open(path)
            .and_then(|f| f.take(len).read_to_end(&mut header))
            .map_err(|e| Failure::usage(format!("cannot read {}: {e}", path.display())))?;
    }
    Ok(header)
}

/// A server that refuses an upload it has started to read (a quota reached, say) can only
/// close the connection; ureq then reports the broken write, not the answer.
fn broken_upload(e: Failure) -> Failure {
    match e {
        Failure::Unreachable { url, reason } => Failure::Unreachable {
            url,
            reason: format!(
                "{reason}; if the server is up, it may have refused the upload part-way (see its log, or retry with a smaller --part-size)"
            ),
        },
        other => other,
    }
}

/// The server's answer to an upload (API-RECORDS.md §2): as is for `--json`, else only what
/// the summary shows (not the list of every record id).
enum Answer {
    Raw(Value),
    Summary(UploadAnswer),
}

impl Answer {
    fn upload_id(&self) -> String {
        match self {
            Answer::Raw(v) => v["upload_id"].as_str().unwrap_or("?").to_owned(),
            Answer::Summary(a) => a.upload_id.clone(),
        }
    }
}

#[derive(Deserialize)]
struct UploadAnswer {
    upload_id: String,
    status: String,
    #[serde(default)]
    summary: Summary,
    #[serde(default)]
    errors: Vec<RowError>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct Summary {
    submitted: u64,
    accepted: u64,
    rejected: u64,
    dedup_skipped: u64,
    created: u64,
    updated: u64,
}

#[derive(Deserialize)]
struct RowError {
    #[serde(default)]
    row: Value,
    #[serde(default)]
    field: Option<String>,
    #[serde(default)]
    message: String,
}

/// Checks the key may upload before a large body is sent: a server that refuses a request
/// early closes the connection under the client's upload, which would read as a broken
/// connection instead of the server's reason. Looking up an upload that cannot exist passes the
/// same access check as the upload itself and answers 404.
fn preflight(client: &Client) -> Result<(), Failure> {
    let url = client.api(&["uploads", "00000000-0000-0000-0000-000000000000"]);
    match client.get(&url) {
        Ok(_) | Err(Failure::Refused { status: 404, .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

fn print_summary(
    client: &Client,
    args: &ImportArgs,
    target: &str,
    parts: &[UploadAnswer],
    elapsed: std::time::Duration,
) {
    let sum = |f: fn(&Summary) -> u64| parts.iter().map(|p| f(&p.summary)).sum::<u64>();
    let ids: Vec<&str> = parts.iter().map(|p| p.upload_id.as_str()).collect();
    let status = match parts {
        [one] => one.status.as_str(),
        _ if parts.iter().all(|p| p.status == "complete") => "complete",
        _ => "partial",
    };
    let secs = elapsed.as_secs_f64().max(0.001);
    println!("Imported {} into {target}", args.file.display());
    if parts.len() > 1 {
        println!("parts:      {} uploads", parts.len());
    }
    println!("upload id:  {}", ids.join(" "));
    println!("status:     {status}");
    println!("received:   {}", sum(|s| s.submitted));
    println!("created:    {}", sum(|s| s.created));
    println!("updated:    {}", sum(|s| s.updated));
    println!("duplicates: {}", sum(|s| s.dedup_skipped));
    println!("rejected:   {}", sum(|s| s.rejected));
    println!(
        "time:       {secs:.1}s, {:.0} records/s stored",
        sum(|s| s.accepted) as f64 / secs
    );
    if sum(|s| s.rejected) == 0 {
        return;
    }
    println!("first rejected rows:");
    for (n, part) in parts.iter().enumerate() {
        let in_part = if parts.len() > 1 {
            format!("part {} ", n + 1)
        } else {
            String::new()
        };
        for e in part.errors.iter().take(5) {
            let field = e
                .field
                .as_deref()
                .map(|f| format!(" {f}:"))
                .unwrap_or_default();
            println!("  {in_part}row {}:{field} {}", e.row, e.message);
        }
    }
    let mut headers = String::new();
    if client.has_key() {
        headers.push_str(" -H \"Authorization: Bearer $QANATIX_API_KEY\"");
    }
    if let Some(t) = &args.remote.tenant {
        headers.push_str(&format!(" -H 'X-Tenant-Id: {t}'"));
    }
    println!("every rejected row with its raw input:");
    for part in parts.iter().filter(|p| p.summary.rejected > 0) {
        let dlq = client.api(&["uploads", &part.upload_id, "dlq"]);
        println!("  curl{headers} {dlq}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_sizes() {
        assert_eq!(parse_part_size("4096"), Ok(4096));
        assert_eq!(parse_part_size("512k"), Ok(512 * 1024));
        assert_eq!(parse_part_size("20M"), Ok(20 * 1024 * 1024));
        assert!(parse_part_size("100").is_err());
        assert!(parse_part_size("51M").is_err());
        assert!(parse_part_size("1G").is_err());
        assert!(parse_part_size("k").is_err());
    }

    #[test]
    fn formats_by_extension() {
        assert_eq!(
            Format::from_extension(Path::new("a/B.CSV")),
            Some(Format::Csv)
        );
        assert_eq!(
            Format::from_extension(Path::new("x.jsonl")),
            Some(Format::Ndjson)
        );
        assert_eq!(Format::from_extension(Path::new("x.txt")), None);
        assert_eq!(Format::from_extension(Path::new("noext")), None);
    }

    #[test]
    fn part_names_carry_the_chosen_format() {
        assert_eq!(part_file_name(Path::new("/d/a.csv"), Format::Csv), "a.csv");
        assert_eq!(
            part_file_name(Path::new("/d/a.csv"), Format::Ndjson),
            "a.csv.ndjson"
        );
        assert_eq!(
            part_file_name(Path::new("/d/we\"ird.txt"), Format::Csv),
            "we_ird.txt.csv"
        );
    }

    #[test]
    fn the_frame_is_multipart() {
        let (head, tail) = multipart_frame("B", "a.csv", Format::Csv, Some("title"));
        let head = String::from_utf8(head).unwrap();
        assert!(head.starts_with(
            "--B\r\nContent-Disposition: form-data; name=\"name_column\"\r\n\r\ntitle\r\n--B\r\n"
        ));
        assert!(head.ends_with("filename=\"a.csv\"\r\nContent-Type: text/csv\r\n\r\n"));
        assert_eq!(tail, b"\r\n--B--\r\n");
    }
}
