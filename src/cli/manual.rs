//! `hush completions` and `hush man`: documents generated from the CLI's
//! own definition.

use super::Cli;
use clap::{Args, CommandFactory};

#[derive(Args)]
pub struct CompletionsArgs {
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

pub fn completions(args: CompletionsArgs) -> anyhow::Result<i32> {
    let mut cmd = Cli::command();
    clap_complete::generate(args.shell, &mut cmd, "hush", &mut std::io::stdout());
    Ok(0)
}

pub fn man() -> anyhow::Result<i32> {
    clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout())?;
    Ok(0)
}
