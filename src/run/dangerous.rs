//! Environment names that give a program *control* rather than data.
//!
//! `hush run` injects whatever a folder holds, and anyone who can write one
//! secret of a folder would otherwise run code on every laptop and CI runner
//! that runs it: a secret named `NODE_OPTIONS` with
//! `--import=data:text/javascript,...`, or `LD_PRELOAD`, turns "write access to
//! one folder" into "code execution everywhere". So a secret whose name is
//! listed here is not injected unless the user allows that exact name
//! (`--allow-env NAME`, or `allowEnv` in `.hush.json`); `hush run` warns,
//! naming each skipped key, and `hush set` warns when one is stored.
//!
//! This is the ONE list (the README's "Dangerous names" table mirrors it). It
//! only filters names that come from the server: variables already in the
//! user's own environment are the user's choice and pass through untouched.
//! Names are compared case-sensitively, as the programs reading them do.

/// How a name is matched.
enum Rule {
    Exact(&'static str),
    Prefix(&'static str),
    /// `GIT_*_COMMAND` style: both ends fixed, anything between.
    Around(&'static str, &'static str),
}

use Rule::{Around, Exact, Prefix};

/// (family, rules). The family is shown in the warning, so a user sees why.
#[rustfmt::skip]
const FAMILIES: &[(&str, &[Rule])] = &[
    // The dynamic loader (glibc, musl, macOS dyld): preload a library into
    // every program started, audit hooks, library search paths.
    ("a dynamic loader hook", &[Prefix("LD_"), Prefix("DYLD_")]),
    // glibc itself loads character-set modules from GCONV_PATH and takes
    // tunables that have been exploitable (CVE-2023-4911).
    ("a C library hook", &[Exact("GCONV_PATH"), Exact("GLIBC_TUNABLES")]),
    // Shells: startup files read by non-interactive bash (BASH_ENV) and sh
    // (ENV), options that turn on tracing or set prompts evaluated with
    // command substitution (PS4 with SHELLOPTS=xtrace runs `$(...)` at every
    // command), word splitting (IFS), exported functions, zsh's startup dir.
    ("a shell startup hook", &[
        Exact("BASH_ENV"), Exact("ENV"), Exact("SHELLOPTS"), Exact("BASHOPTS"),
        Exact("PS0"), Exact("PS1"), Exact("PS2"), Exact("PS4"),
        Exact("PROMPT_COMMAND"), Exact("IFS"), Prefix("BASH_FUNC_"), Exact("ZDOTDIR"),
    ]),
    // git: configuration injected through the environment (core.sshCommand,
    // core.fsmonitor, aliases... all run commands), helper commands and the
    // directory git's own sub-commands are run from.
    ("a git command hook", &[
        Prefix("GIT_CONFIG"), Around("GIT_", "_COMMAND"), Exact("GIT_EXEC_PATH"),
        Exact("GIT_SSH"), Exact("GIT_ASKPASS"), Exact("GIT_EDITOR"),
        Exact("GIT_SEQUENCE_EDITOR"), Exact("GIT_PAGER"), Exact("GIT_EXTERNAL_DIFF"),
        Exact("GIT_TEMPLATE_DIR"),
    ]),
    // Commands other tools start on their own (ssh, sudo, git, man, less...).
    ("a helper command", &[
        Exact("SSH_ASKPASS"), Exact("SUDO_ASKPASS"), Exact("EDITOR"), Exact("VISUAL"),
        Exact("PAGER"), Exact("LESSOPEN"), Exact("LESSCLOSE"), Exact("MANPAGER"),
    ]),
    // Node.js: options (--require/--import of any code, including data: URLs),
    // module search path, REPL module.
    ("a Node.js hook", &[
        Exact("NODE_OPTIONS"), Exact("NODE_PATH"), Exact("NODE_REPL_EXTERNAL_MODULE"),
    ]),
    // Python: a file run at start, module search paths (a sitecustomize or
    // .pth file runs code), breakpoint() and -W targets that are imported.
    ("a Python hook", &[
        Exact("PYTHONSTARTUP"), Exact("PYTHONPATH"), Exact("PYTHONHOME"),
        Exact("PYTHONUSERBASE"), Exact("PYTHONPLATLIBDIR"), Exact("PYTHONBREAKPOINT"),
        Exact("PYTHONWARNINGS"), Exact("PYTHONINSPECT"),
    ]),
    // Perl: PERL5OPT (-M loads modules), PERL5LIB/PERLLIB, PERL5DB.
    ("a Perl hook", &[Prefix("PERL5"), Exact("PERLLIB")]),
    // Ruby: RUBYOPT (-r requires a file), RUBYLIB.
    ("a Ruby hook", &[Exact("RUBYOPT"), Exact("RUBYLIB")]),
    // Java: options every JVM reads (-javaagent:, -XX:OnOutOfMemoryError=cmd).
    ("a Java hook", &[
        Exact("JAVA_TOOL_OPTIONS"), Exact("_JAVA_OPTIONS"), Exact("JDK_JAVA_OPTIONS"),
    ]),
    // .NET: startup hooks and profilers load assemblies / native libraries.
    ("a .NET hook", &[
        Exact("DOTNET_STARTUP_HOOKS"), Exact("DOTNET_ADDITIONAL_DEPS"),
        Prefix("CORECLR_"), Prefix("COR_PROFILER"),
    ]),
    // Lua runs LUA_INIT (code, or @file) at start; PHP and R read start-up
    // configuration that can name code to run.
    ("an interpreter start-up hook", &[
        Prefix("LUA_INIT"), Exact("LUA_PATH"), Exact("LUA_CPATH"), Exact("PHPRC"),
        Exact("PHP_INI_SCAN_DIR"), Exact("R_PROFILE"), Exact("R_PROFILE_USER"),
        Exact("R_ENVIRON"), Exact("R_ENVIRON_USER"), Exact("TCLLIBPATH"),
    ]),
];

/// The family `name` belongs to ("a Node.js hook"), or None for an ordinary name.
pub fn family(name: &str) -> Option<&'static str> {
    FAMILIES.iter().find_map(|(family, rules)| {
        rules
            .iter()
            .any(|rule| match *rule {
                Exact(n) => name == n,
                Prefix(p) => name.starts_with(p),
                Around(p, s) => {
                    name.len() >= p.len() + s.len() && name.starts_with(p) && name.ends_with(s)
                }
            })
            .then_some(*family)
    })
}

/// The warning `hush run` prints for a skipped secret (a name, never a value).
pub fn skipped_warning(name: &str) -> String {
    let why = family(name).unwrap_or("a loader or interpreter hook");
    format!(
        "hush: warning: secret {name} not injected: it is {why} and could make programs run code; \
         allow it with --allow-env {name} (or \"allowEnv\": [\"{name}\"] in .hush.json)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issue_names_are_refused() {
        for name in [
            "LD_PRELOAD",
            "LD_LIBRARY_PATH",
            "LD_AUDIT",
            "DYLD_INSERT_LIBRARIES",
            "NODE_OPTIONS",
            "BASH_ENV",
            "ENV",
            "SHELLOPTS",
            "BASHOPTS",
            "PS4",
            "PROMPT_COMMAND",
            "IFS",
            "GIT_CONFIG_COUNT",
            "GIT_CONFIG_KEY_0",
            "GIT_CONFIG_VALUE_0",
            "GIT_CONFIG_GLOBAL",
            "GIT_SSH_COMMAND",
            "GIT_PROXY_COMMAND",
            "GIT_EXEC_PATH",
            "PYTHONSTARTUP",
            "PYTHONPATH",
            "PYTHONHOME",
            "PERL5OPT",
            "PERL5LIB",
            "PERL5DB",
            "RUBYOPT",
            "RUBYLIB",
            "JAVA_TOOL_OPTIONS",
            "_JAVA_OPTIONS",
            "JDK_JAVA_OPTIONS",
            "BASH_FUNC_ls%%",
            "GCONV_PATH",
            "DOTNET_STARTUP_HOOKS",
            "LUA_INIT_5_4",
        ] {
            assert!(family(name).is_some(), "{name}");
        }
    }

    #[test]
    fn ordinary_names_pass() {
        for name in [
            "DATABASE_URL",
            "API_KEY",
            "NODE_ENV",
            "PYTHONUNBUFFERED",
            "GIT_COMMIT",
            "GIT_COMMAND",
            "LDAP_URL",
            "ENVIRONMENT",
            "PS",
            "JAVA_OPTS",
            "ld_preload",
            "MY_LD_PRELOAD",
            "RUBY_VERSION",
        ] {
            assert_eq!(family(name), None, "{name}");
        }
    }

    #[test]
    fn the_warning_names_the_key_and_the_way_out() {
        let w = skipped_warning("NODE_OPTIONS");
        assert!(w.contains("secret NODE_OPTIONS not injected"), "{w}");
        assert!(w.contains("Node.js"), "{w}");
        assert!(w.contains("--allow-env NODE_OPTIONS"), "{w}");
    }
}
