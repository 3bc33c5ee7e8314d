//! The network a deployment reaches hosts through, on loopback: an egress proxy (the one
//! `HTTPS_PROXY` names) that answers `CONNECT host:443` itself, as every host, over TLS
//! with a certificate from a test CA (the one `SSL_CERT_FILE` names). A test gives the
//! answers; every request is recorded with the host it was sent to, so a test can show
//! what went where (a registry's `/v2/`, CloudFormation's `ResponseURL`).

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// One request as the host received it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The host the client asked the proxy for (`CONNECT host:port`).
    pub host: String,
    pub method: String,
    pub path: String,
    /// Names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// When it arrived.
    pub at: std::time::SystemTime,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// An answer: status, headers, body.
pub type Reply = (u16, Vec<(&'static str, String)>, String);

type Answer = dyn Fn(&Seen) -> Reply + Send + Sync;

pub struct TlsWorld {
    pub proxy: String,
    pub ca_file: PathBuf,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    /// Every `CONNECT` target, in order, answered or not.
    pub connects: Arc<Mutex<Vec<String>>>,
}

impl TlsWorld {
    /// Serves every host in `names` (a name may be a wildcard, `*.s3.amazonaws.com`).
    pub fn start(names: &[&str], answer: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Self {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        ca.distinguished_name
            .push(DnType::CommonName, "airflow-ecr-refresher test CA");
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let leaf_key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let leaf = CertificateParams::new(names)
            .unwrap()
            .signed_by(&leaf_key, &Issuer::new(ca, ca_key))
            .unwrap();
        let dir = std::env::temp_dir().join(format!(
            "aer-tls-{}-{}",
            std::process::id(),
            crate::common::unique_prefix("ca")
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let ca_file = dir.join("ca.pem");
        std::fs::write(&ca_file, ca_cert.pem()).unwrap();
        let chain: Vec<CertificateDer<'static>> = vec![leaf.der().clone()];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        let config = Arc::new(
            rustls::ServerConfig::builder_with_provider(Arc::new(
                rustls::crypto::aws_lc_rs::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap(),
        );
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let proxy = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let connects = Arc::new(Mutex::new(Vec::new()));
        let answer: Arc<Answer> = Arc::new(answer);
        let (s, c) = (seen.clone(), connects.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (config, answer, s, c) = (config.clone(), answer.clone(), s.clone(), c.clone());
                std::thread::spawn(move || tunnel(stream, config, &*answer, &s, &c));
            }
        });
        Self {
            proxy,
            ca_file,
            seen,
            connects,
        }
    }

    /// The variables that send a deployment's HTTPS through this proxy and trust its CA;
    /// loopback (the local AWS, the Runtime API) is reached directly, as `NO_PROXY` says.
    pub fn vars(&self) -> [(&'static str, String); 3] {
        [
            ("HTTPS_PROXY", self.proxy.clone()),
            ("SSL_CERT_FILE", self.ca_file.display().to_string()),
            ("NO_PROXY", "127.0.0.1,localhost".into()),
        ]
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn read_head(reader: &mut impl BufRead) -> Option<(String, Vec<(String, String)>)> {
    let mut first = String::new();
    if reader.read_line(&mut first).ok()? == 0 {
        return None;
    }
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            return Some((first.trim_end().to_owned(), headers));
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
}

/// One `CONNECT`, then one HTTP/1.1 exchange inside TLS (`Connection: close`).
fn tunnel(
    stream: TcpStream,
    config: Arc<rustls::ServerConfig>,
    answer: &Answer,
    seen: &Mutex<Vec<Seen>>,
    connects: &Mutex<Vec<String>>,
) {
    let mut reader = BufReader::new(stream);
    let Some((line, _)) = read_head(&mut reader) else {
        return;
    };
    let mut stream = reader.into_inner();
    let Some(target) = line
        .strip_prefix("CONNECT ")
        .and_then(|l| l.split(' ').next())
    else {
        let _ = stream.write_all(b"HTTP/1.1 405 Only CONNECT\r\nConnection: close\r\n\r\n");
        return;
    };
    connects.lock().unwrap().push(target.to_owned());
    let host = target
        .rsplit_once(':')
        .map_or(target, |(h, _)| h)
        .to_owned();
    if stream
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .is_err()
    {
        return;
    }
    let tls = rustls::StreamOwned::new(rustls::ServerConnection::new(config).unwrap(), stream);
    let mut reader = BufReader::new(tls);
    let Some((line, headers)) = read_head(&mut reader) else {
        return;
    };
    let mut parts = line.split(' ');
    let (method, path) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let length = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let request = Seen {
        host,
        method: method.to_owned(),
        path: path.to_owned(),
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
        at: std::time::SystemTime::now(),
    };
    seen.lock().unwrap().push(request.clone());
    let (status, headers, body) = answer(&request);
    let mut head = format!(
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut tls = reader.into_inner();
    let _ = tls.write_all(head.as_bytes());
    let _ = tls.write_all(body.as_bytes());
    tls.conn.send_close_notify();
    let _ = tls.flush();
}
