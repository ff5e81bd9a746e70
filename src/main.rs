//! Parse arguments, set up logging, dispatch, map errors to exit codes.

#[global_allocator]
static ALLOCATOR: hush::alloc::HushAllocator = hush::alloc::HushAllocator;

fn main() {
    let mut cli = hush::cli::Cli::parse_args();
    // First, while the process has one thread: it changes the environment.
    let warnings = cli.prepare_process();
    hush::cli::init_tracing(&cli);
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    let code = match hush::cli::dispatch(cli) {
        Ok(code) => code,
        Err(err) => {
            let (code, message, hint) = hush::cli::error::describe(&err);
            eprintln!("hush: {message}");
            if let Some(hint) = hint {
                eprintln!("hint: {hint}");
            }
            code
        }
    };
    std::process::exit(code);
}
