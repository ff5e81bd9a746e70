//! Redis ACL users: a definition's commands (e.g. `ACL SETUSER
//! {{username}} on >{{password}} ~* +@all`, `ACL DELUSER {{username}}`) sent
//! through a small RESP client over TCP.
//!
//! Commands are separated by `;` or new lines and split into arguments at
//! white space; generated names and passwords contain neither, so a value
//! can never add an argument or a command. `{{password_sha256}}` is the
//! password's SHA-256 in hex, for ACL's `#<hash>` rule, which keeps the
//! password itself out of `MONITOR` and `SLOWLOG`. Every reply is read with
//! a bound (`MAX_REDIS_REPLY`), and the whole exchange with `TIMEOUT`.

use super::limits::{MAX_REDIS_REPLY, TIMEOUT};
use super::template::{expiration, fill, Credential};
use super::Run;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// The placeholders a Redis command may use.
pub const PLACEHOLDERS: &[&str] = &["username", "password", "password_sha256", "expiration"];

/// How deep a reply's arrays may nest before hush stops reading.
const MAX_DEPTH: usize = 4;
/// Elements of one array reply.
const MAX_ELEMENTS: i64 = 1024;

pub async fn execute(run: &Run<'_>, statement: &str, cred: &Credential) -> Result<(), String> {
    let sha = if cred.password.is_empty() {
        String::new()
    } else {
        hex::encode(ring::digest::digest(&ring::digest::SHA256, cred.password.as_bytes()).as_ref())
    };
    let until = expiration(cred.expires_at);
    let text = fill(
        statement,
        &[
            ("username", &cred.username),
            ("password", &cred.password),
            ("password_sha256", &sha),
            ("expiration", &until),
        ],
    )?;
    let commands: Vec<Vec<&str>> = split_commands(&text);
    let c = run.conn;
    if c.ssl_mode.as_deref().is_some_and(|m| m != "disable") {
        return Err(
            "TLS to Redis is not supported yet: use sslMode disable on a private network".into(),
        );
    }
    let work = async {
        let stream = TcpStream::connect((c.host.as_str(), c.port))
            .await
            .map_err(|e| format!("cannot connect to Redis at {}:{}: {e}", c.host, c.port))?;
        let mut conn = Resp::new(stream);
        if !run.admin_password.is_empty() {
            let auth: Vec<&str> = if c.username.is_empty() {
                vec!["AUTH", run.admin_password]
            } else {
                vec!["AUTH", &c.username, run.admin_password]
            };
            conn.command(&auth)
                .await
                .map_err(|e| format!("Redis refused the admin credential: {e}"))?;
        }
        for command in &commands {
            conn.command(command)
                .await
                .map_err(|e| format!("Redis refused {}: {e}", command_name(command)))?;
        }
        Ok(())
    };
    tokio::time::timeout(TIMEOUT, work)
        .await
        .map_err(|_| format!("Redis did not answer within {}s", TIMEOUT.as_secs()))?
}

/// Commands separated by `;` or new lines, arguments by white space.
pub fn split_commands(text: &str) -> Vec<Vec<&str>> {
    text.split([';', '\n'])
        .map(|c| c.split_whitespace().collect::<Vec<_>>())
        .filter(|c| !c.is_empty())
        .collect()
}

/// The first two words of a command (`ACL SETUSER`), never its arguments.
fn command_name(command: &[&str]) -> String {
    command
        .iter()
        .take(2)
        .map(|w| w.to_ascii_uppercase())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A RESP2 connection: commands out as arrays of bulk strings, replies read
/// with bounds. Enough for `AUTH`, `ACL` and `PING`.
pub struct Resp<S> {
    io: BufReader<S>,
}

/// One reply, reduced to what hush looks at.
#[derive(Debug, PartialEq)]
pub enum Reply {
    Ok(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Vec<Reply>),
}

impl<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Resp<S> {
    pub fn new(io: S) -> Self {
        Resp {
            io: BufReader::new(io),
        }
    }

    /// Sends one command; Err with the server's error line on `-ERR`.
    pub async fn command(&mut self, args: &[&str]) -> Result<Reply, String> {
        let mut out = zeroize::Zeroizing::new(format!("*{}\r\n", args.len()).into_bytes());
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        let io = self.io.get_mut();
        io.write_all(&out).await.map_err(|e| e.to_string())?;
        io.flush().await.map_err(|e| e.to_string())?;
        self.reply(0).await
    }

    async fn line(&mut self) -> Result<String, String> {
        let mut buf = Vec::new();
        let mut limited = (&mut self.io).take(MAX_REDIS_REPLY as u64);
        limited
            .read_until(b'\n', &mut buf)
            .await
            .map_err(|e| e.to_string())?;
        if !buf.ends_with(b"\r\n") {
            return Err("Redis sent a malformed or oversized reply".into());
        }
        buf.truncate(buf.len() - 2);
        String::from_utf8(buf).map_err(|_| "Redis sent a reply that is not UTF-8".into())
    }

    fn reply(
        &mut self,
        depth: usize,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Reply, String>> + Send + '_>>
    {
        Box::pin(async move {
            let line = self.line().await?;
            let (kind, rest) = line.split_at(line.len().min(1));
            let number = || {
                rest.parse::<i64>()
                    .map_err(|_| "Redis sent a malformed reply".to_owned())
            };
            match kind {
                "+" => Ok(Reply::Ok(rest.to_owned())),
                "-" => Err(crate::limits::cut_to(rest.to_owned(), 200)),
                ":" => Ok(Reply::Int(number()?)),
                "$" => {
                    let n = number()?;
                    if n < 0 {
                        return Ok(Reply::Bulk(None));
                    }
                    if n as usize > MAX_REDIS_REPLY {
                        return Err("Redis sent an oversized reply".into());
                    }
                    let mut data = vec![0u8; n as usize + 2];
                    self.io
                        .read_exact(&mut data)
                        .await
                        .map_err(|e| e.to_string())?;
                    data.truncate(n as usize);
                    Ok(Reply::Bulk(Some(data)))
                }
                "*" => {
                    let n = number()?;
                    if depth >= MAX_DEPTH || n > MAX_ELEMENTS {
                        return Err("Redis sent an oversized reply".into());
                    }
                    let mut items = Vec::new();
                    for _ in 0..n.max(0) {
                        items.push(self.reply(depth + 1).await?);
                    }
                    Ok(Reply::Array(items))
                }
                _ => Err("Redis sent a malformed reply".into()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn answer(server_says: &[u8], args: &[&str]) -> (Result<Reply, String>, Vec<u8>) {
        let (client, mut server) = tokio::io::duplex(1 << 20);
        server.write_all(server_says).await.unwrap();
        server.shutdown().await.unwrap();
        let mut resp = Resp::new(client);
        let reply = resp.command(args).await;
        drop(resp);
        let mut sent = Vec::new();
        server.read_to_end(&mut sent).await.unwrap();
        (reply, sent)
    }

    #[tokio::test]
    async fn speaks_resp() {
        let (r, sent) = answer(b"+OK\r\n", &["ACL", "DELUSER", "u"]).await;
        assert_eq!(r, Ok(Reply::Ok("OK".into())));
        assert_eq!(sent, b"*3\r\n$3\r\nACL\r\n$7\r\nDELUSER\r\n$1\r\nu\r\n");
        assert_eq!(answer(b":1\r\n", &["X"]).await.0, Ok(Reply::Int(1)));
        assert_eq!(
            answer(b"$3\r\nabc\r\n", &["X"]).await.0,
            Ok(Reply::Bulk(Some(b"abc".to_vec())))
        );
        assert_eq!(
            answer(b"*2\r\n:1\r\n$-1\r\n", &["X"]).await.0,
            Ok(Reply::Array(vec![Reply::Int(1), Reply::Bulk(None)]))
        );
        assert_eq!(
            answer(b"-WRONGPASS invalid\r\n", &["AUTH", "x"]).await.0,
            Err("WRONGPASS invalid".into())
        );
    }

    #[tokio::test]
    async fn bounds_hostile_replies() {
        for bad in [
            &b"$99999999\r\n"[..],
            b"*99999\r\n",
            b"*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n",
            b"?\r\n",
            b"+no end",
        ] {
            assert!(answer(bad, &["X"]).await.0.is_err(), "{bad:?}");
        }
        let long = [b"+".as_slice(), &vec![b'a'; MAX_REDIS_REPLY + 10], b"\r\n"].concat();
        assert!(answer(&long, &["X"]).await.0.is_err());
    }

    #[test]
    fn commands_split_at_white_space() {
        assert_eq!(
            split_commands("ACL SETUSER u on >p ~* +@all;\n ACL  SAVE ;"),
            vec![
                vec!["ACL", "SETUSER", "u", "on", ">p", "~*", "+@all"],
                vec!["ACL", "SAVE"]
            ]
        );
        assert_eq!(command_name(&["acl", "setuser", "u", ">pw"]), "ACL SETUSER");
    }
}
