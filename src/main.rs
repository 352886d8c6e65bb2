use clap::Parser;

// mimalloc returns freed memory to the OS; glibc's per-thread arenas kept the transient
// allocations of large ingestion batches resident (see BENCHMARKS.md, memory).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use qanatix::cli::{self, Cli};
use qanatix::Application;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let config = match cli.command {
        None => cli.serve,
        Some(command) => return cli::run(command),
    };
    env_logger::Builder::new()
        // The storage engine reports each file it writes at info: quiet unless asked for by
        // name (RUST_LOG=fjall=info).
        .filter_module("fjall", log::LevelFilter::Warn)
        .filter_module("lsm_tree", log::LevelFilter::Warn)
        .parse_filters(&config.log)
        .format_timestamp_millis()
        .init();
    let system = actix_web::rt::System::new();
    let result = system.block_on(async move {
        let app = Application::build(config)?;
        app.run_until_stopped().await.map_err(|e| e.to_string())
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            log::error!("{e}");
            eprintln!("qanatix: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
