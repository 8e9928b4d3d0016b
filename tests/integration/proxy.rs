//! A TCP proxy in front of the test server that injects the faults a
//! network or a server restart causes, at chosen points.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use orm::postgres::tokio_postgres::config::Host;
use orm::testing::TestDb;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy does with a client message that sends `COMMIT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnCommit {
    /// Passes it on, as everything else.
    Forward,
    /// Passes it on, then closes both sides before the server's answer: the
    /// transaction commits, and the client never learns it.
    Cut,
    /// Passes it on, and holds the server's answer back this long.
    Delay(Duration),
}

pub(crate) struct Proxy {
    /// The port it listens on, on 127.0.0.1.
    pub(crate) port: u16,
    state: Arc<State>,
}

struct State {
    accepted: AtomicUsize,
    /// Connections with a lower number are half-dead: still open, but closed
    /// by the proxy as soon as the client sends anything. This is the stale
    /// connection that only a round trip reveals (`Client::is_closed` cannot
    /// see it).
    doomed_below: AtomicUsize,
    on_commit: Mutex<OnCommit>,
}

impl Proxy {
    /// A proxy in front of the server of `db`, and the URL of `db` through it
    /// (without TLS, so that the proxy can see the messages).
    pub(crate) async fn in_front_of(db: &TestDb) -> (Proxy, String) {
        let config: orm::postgres::tokio_postgres::Config = db.url().parse().unwrap();
        let host = match &config.get_hosts()[0] {
            Host::Tcp(host) => host.clone(),
            other => panic!("the tests need a TCP server, got {other:?}"),
        };
        let proxy = Proxy::start((host, config.get_ports()[0])).await;
        let user = config.get_user().unwrap_or("postgres");
        let url = format!("postgres://{user}@127.0.0.1:{}/{}?sslmode=disable", proxy.port, db.name());
        (proxy, url)
    }

    async fn start(upstream: (String, u16)) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(State {
            accepted: AtomicUsize::new(0),
            doomed_below: AtomicUsize::new(0),
            on_commit: Mutex::new(OnCommit::Forward),
        });
        let shared = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else { return };
                let Ok(server) = TcpStream::connect((upstream.0.as_str(), upstream.1)).await else { return };
                let id = shared.accepted.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(forward(id, client, server, shared.clone()));
            }
        });
        Proxy { port, state }
    }

    /// Makes every connection accepted so far half-dead.
    pub(crate) fn kill_existing(&self) {
        self.state.doomed_below.store(self.state.accepted.load(Ordering::SeqCst), Ordering::SeqCst);
    }

    /// Sets what happens to the next messages that send `COMMIT`.
    pub(crate) fn on_commit(&self, what: OnCommit) {
        *self.state.on_commit.lock().unwrap() = what;
    }
}

async fn forward(id: usize, client: TcpStream, server: TcpStream, state: Arc<State>) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    // Milliseconds to hold the server's next answer back.
    let hold_answer = AtomicU64::new(0);
    // Set once a COMMIT was cut: the server's answer is never passed on.
    let cut = AtomicBool::new(false);
    let upstream = async {
        let mut buffer = vec![0; 16 * 1024];
        loop {
            let n = client_read.read(&mut buffer).await.unwrap_or(0);
            if n == 0 || id < state.doomed_below.load(Ordering::SeqCst) {
                return;
            }
            let commit = buffer[..n].windows(6).any(|w| w == b"COMMIT");
            let on_commit = if commit { *state.on_commit.lock().unwrap() } else { OnCommit::Forward };
            match on_commit {
                OnCommit::Delay(delay) => hold_answer.store(delay.as_millis() as u64, Ordering::SeqCst),
                OnCommit::Cut => cut.store(true, Ordering::SeqCst),
                OnCommit::Forward => {}
            }
            if server_write.write_all(&buffer[..n]).await.is_err() {
                return;
            }
            if on_commit == OnCommit::Cut {
                // Long enough for the server to commit.
                tokio::time::sleep(Duration::from_millis(200)).await;
                return;
            }
        }
    };
    let downstream = async {
        let mut buffer = vec![0; 16 * 1024];
        loop {
            let n = server_read.read(&mut buffer).await.unwrap_or(0);
            if n == 0 || cut.load(Ordering::SeqCst) {
                return;
            }
            let hold = hold_answer.swap(0, Ordering::SeqCst);
            if hold > 0 {
                tokio::time::sleep(Duration::from_millis(hold)).await;
            }
            if client_write.write_all(&buffer[..n]).await.is_err() {
                return;
            }
        }
    };
    // Whichever side ends first closes both.
    tokio::select! {
        _ = upstream => {}
        _ = downstream => {}
    }
}
