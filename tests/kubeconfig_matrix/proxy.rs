//! Proxies on loopback: an HTTP CONNECT proxy and a SOCKS5 proxy (no authentication),
//! each resolving names from its own table (the "corporate DNS" behind the proxy:
//! `kube.matrix.invalid` resolves only there), recording every tunnel asked for.
//! A proxy can also play a remote one that cannot reach the client's loopback, as a
//! corporate proxy cannot reach a kind cluster on the developer's 127.0.0.1, and the
//! CONNECT proxy can require a login (`Proxy-Authorization: Basic`).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Where the proxies send a name: to 127.0.0.1, the stand-in's host.
#[derive(Clone, Default)]
pub struct Names(HashMap<String, IpAddr>);

impl Names {
    pub fn with(mut self, name: &str) -> Names {
        self.0
            .insert(name.to_owned(), IpAddr::V4(Ipv4Addr::LOCALHOST));
        self
    }
}

/// One tunnel a client asked for: `host:port` as it named it, and whether it opened.
#[derive(Clone, Debug)]
pub struct Tunnel {
    pub target: String,
    pub opened: bool,
}

/// How a proxy behaves.
#[derive(Clone, Default)]
pub struct Options {
    pub names: Names,
    /// Loopback targets fail, as they would from another machine.
    pub remote: bool,
    /// The CONNECT proxy answers 407 unless given this user and password.
    pub login: Option<(String, String)>,
}

pub struct Proxy {
    pub port: u16,
    tunnels: Arc<Mutex<Vec<Tunnel>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Connect,
    Socks5,
}

impl Proxy {
    pub async fn start(kind: Kind, options: Options) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let tunnels = Arc::new(Mutex::new(Vec::new()));
        let record = tunnels.clone();
        let options = Arc::new(options);
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                let options = options.clone();
                let record = record.clone();
                connections.spawn(async move {
                    let _ = match kind {
                        Kind::Connect => connect(client, &options, &record).await,
                        Kind::Socks5 => socks5(client, &options, &record).await,
                    };
                });
                while connections.try_join_next().is_some() {}
            }
        });
        Proxy {
            port,
            tunnels,
            task,
        }
    }

    pub fn tunnels(&self) -> Vec<Tunnel> {
        self.tunnels.lock().unwrap().clone()
    }
}

/// Opens the tunnel to `host:port`, resolving `host` from `names` or as an address.
async fn open(
    host: &str,
    port: u16,
    options: &Options,
    record: &Mutex<Vec<Tunnel>>,
) -> Option<TcpStream> {
    let names = &options.names;
    let remote = options.remote;
    let address = names
        .0
        .get(host)
        .copied()
        .or_else(|| host.trim_matches(['[', ']']).parse::<IpAddr>().ok())
        .filter(|ip| !(remote && ip.is_loopback() && !names.0.contains_key(host)));
    let stream = match address {
        Some(ip) => TcpStream::connect(SocketAddr::new(ip, port)).await.ok(),
        None => None,
    };
    record.lock().unwrap().push(Tunnel {
        target: format!("{host}:{port}"),
        opened: stream.is_some(),
    });
    stream
}

async fn connect(
    mut client: TcpStream,
    options: &Options,
    record: &Mutex<Vec<Tunnel>>,
) -> std::io::Result<()> {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        if client.read(&mut byte).await? == 0 || head.len() > 8192 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    let mut words = head.split_whitespace();
    let (Some("CONNECT"), Some(authority)) = (words.next(), words.next()) else {
        client
            .write_all(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            .await?;
        return Ok(());
    };
    let Some((host, port)) = authority.rsplit_once(':') else {
        client
            .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            .await?;
        return Ok(());
    };
    let port = port.parse().unwrap_or(443);
    if let Some((user, password)) = &options.login {
        use base64::Engine as _;
        let expected = format!(
            "basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        );
        let authorized = head.lines().any(|line| {
            line.split_once(':').is_some_and(|(name, value)| {
                name.eq_ignore_ascii_case("proxy-authorization")
                    && value.trim().eq_ignore_ascii_case(&expected)
            })
        });
        if !authorized {
            record.lock().unwrap().push(Tunnel {
                target: format!("{host}:{port} without the proxy login"),
                opened: false,
            });
            client
                .write_all(
                    b"HTTP/1.1 407 Proxy Authentication Required\r\n\
                      Proxy-Authenticate: Basic realm=\"matrix\"\r\nContent-Length: 0\r\n\r\n",
                )
                .await?;
            return Ok(());
        }
    }
    match open(host, port, options, record).await {
        Some(mut upstream) => {
            client
                .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                .await?;
            tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
        }
        None => {
            client
                .write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                .await?;
        }
    }
    Ok(())
}

/// RFC 1928, "no authentication" only, CONNECT only.
async fn socks5(
    mut client: TcpStream,
    options: &Options,
    record: &Mutex<Vec<Tunnel>>,
) -> std::io::Result<()> {
    let mut greeting = [0u8; 2];
    client.read_exact(&mut greeting).await?;
    let mut methods = vec![0u8; greeting[1] as usize];
    client.read_exact(&mut methods).await?;
    if greeting[0] != 5 || !methods.contains(&0) {
        client.write_all(&[5, 0xff]).await?;
        return Ok(());
    }
    client.write_all(&[5, 0]).await?;
    let mut request = [0u8; 4];
    client.read_exact(&mut request).await?;
    let host = match request[3] {
        1 => {
            let mut ip = [0u8; 4];
            client.read_exact(&mut ip).await?;
            Ipv4Addr::from(ip).to_string()
        }
        3 => {
            let mut length = [0u8; 1];
            client.read_exact(&mut length).await?;
            let mut name = vec![0u8; length[0] as usize];
            client.read_exact(&mut name).await?;
            String::from_utf8_lossy(&name).into_owned()
        }
        4 => {
            let mut ip = [0u8; 16];
            client.read_exact(&mut ip).await?;
            format!("[{}]", std::net::Ipv6Addr::from(ip))
        }
        _ => return Ok(()),
    };
    let mut port = [0u8; 2];
    client.read_exact(&mut port).await?;
    let port = u16::from_be_bytes(port);
    if request[1] != 1 {
        client.write_all(&[5, 7, 0, 1, 0, 0, 0, 0, 0, 0]).await?;
        return Ok(());
    }
    match open(&host, port, options, record).await {
        Some(mut upstream) => {
            client.write_all(&[5, 0, 0, 1, 0, 0, 0, 0, 0, 0]).await?;
            tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
        }
        None => {
            client.write_all(&[5, 4, 0, 1, 0, 0, 0, 0, 0, 0]).await?;
        }
    }
    Ok(())
}
