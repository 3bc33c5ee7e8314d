//! HTTPS on 127.0.0.1 in front of a plain-HTTP upstream (the test proxy), for `make bench`.
//!
//!     tls-terminator CHAIN_PEM KEY_PEM UPSTREAM_HOST:PORT [--listeners N] [--no-resumption]
//!
//! Prints "<tls port>... <stats port>" on its first line of stdout (N TLS ports, default 1:
//! one per AWS service, so that a client's connection pool, keyed by host and port, sees
//! each service as its own endpoint, as against AWS), then serves until killed.
//! Each accepted connection is one TLS handshake (TLS 1.3 or 1.2, ALPN http/1.1 only, as
//! AWS's HTTP/1.1 endpoints answer) and then bytes copied both ways to one new upstream
//! connection. A connection to the stats port reads the counters since start as one JSON
//! line: {"handshakes": full, "resumed": resumed, "failed": failed}. With --no-resumption
//! the server keeps no sessions and issues no tickets, so every handshake is a full one.
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::NoServerSessionStorage;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

#[derive(Default)]
struct Counters {
    full: AtomicU64,
    resumed: AtomicU64,
    failed: AtomicU64,
}

fn usage() -> ! {
    eprintln!(
        "usage: tls-terminator CHAIN_PEM KEY_PEM UPSTREAM_HOST:PORT [--listeners N] [--no-resumption]"
    );
    std::process::exit(2)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [chain, key, upstream, options @ ..] = &args[..] else {
        usage()
    };
    let (mut listeners, mut resumption) = (1, true);
    let mut options = options.iter();
    while let Some(option) = options.next() {
        match option.as_str() {
            "--no-resumption" => resumption = false,
            "--listeners" => {
                listeners = options
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or_else(|| usage())
            }
            _ => usage(),
        }
    }
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(chain)
        .and_then(|certs| certs.collect())
        .unwrap_or_else(|e| panic!("reading {chain}: {e}"));
    let key = PrivateKeyDer::from_pem_file(key).unwrap_or_else(|e| panic!("reading {key}: {e}"));
    let mut config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("certificate and key");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    if !resumption {
        config.session_storage = Arc::new(NoServerSessionStorage {});
        config.send_tls13_tickets = 0;
    }
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let counters = Arc::new(Counters::default());

    let mut ports = Vec::new();
    for _ in 0..listeners {
        let tls = TcpListener::bind("127.0.0.1:0").await?;
        ports.push(tls.local_addr()?.port().to_string());
        tokio::spawn(serve(
            tls,
            acceptor.clone(),
            Arc::clone(&counters),
            upstream.clone(),
        ));
    }
    let stats = TcpListener::bind("127.0.0.1:0").await?;
    println!("{} {}", ports.join(" "), stats.local_addr()?.port());

    loop {
        let (mut sock, _) = stats.accept().await?;
        let line = format!(
            "{{\"handshakes\": {}, \"resumed\": {}, \"failed\": {}}}\n",
            counters.full.load(Relaxed),
            counters.resumed.load(Relaxed),
            counters.failed.load(Relaxed)
        );
        let _ = sock.write_all(line.as_bytes()).await;
    }
}

async fn serve(tls: TcpListener, acceptor: TlsAcceptor, counters: Arc<Counters>, upstream: String) {
    while let Ok((sock, _)) = tls.accept().await {
        let (acceptor, counters, upstream) =
            (acceptor.clone(), Arc::clone(&counters), upstream.clone());
        tokio::spawn(async move {
            let _ = sock.set_nodelay(true);
            let mut tls = match acceptor.accept(sock).await {
                Ok(tls) => tls,
                Err(_) => {
                    counters.failed.fetch_add(1, Relaxed);
                    return;
                }
            };
            let kind = tls.get_ref().1.handshake_kind();
            let counter = if kind == Some(rustls::HandshakeKind::Resumed) {
                &counters.resumed
            } else {
                &counters.full
            };
            counter.fetch_add(1, Relaxed);
            let Ok(mut up) = TcpStream::connect(&upstream).await else {
                return;
            };
            let _ = up.set_nodelay(true);
            let _ = tokio::io::copy_bidirectional(&mut tls, &mut up).await;
        });
    }
}
