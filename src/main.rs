//! Parse arguments, set up logging, dispatch, map errors to exit codes.

use clap::Parser;

// The server allocates many short-lived buffers per request (rows, JSON,
// ciphertexts); mimalloc measured faster than the system allocator for that.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = hush::cli::Cli::parse();
    hush::cli::init_tracing(&cli);
    let code = match hush::cli::dispatch(cli) {
        Ok(code) => code,
        Err(err) => {
            let (code, message, hint) = hush::error::describe(&err);
            eprintln!("hush: {message}");
            if let Some(hint) = hint {
                eprintln!("hint: {hint}");
            }
            code
        }
    };
    std::process::exit(code);
}
