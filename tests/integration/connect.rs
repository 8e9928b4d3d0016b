//! Opening connections: TLS and its sslmodes, the connect timeout, settings
//! of each new connection (on-connect SQL, statement_timeout,
//! application_name), and the pool's waiting count.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;

use orm::error::error_chain as chain;
use orm::prelude::*;
use orm::testing::{TempCluster, TestDb};
use orm::{Connection, EngineBuilder, Value};

/// The single value of a one-row, one-column query.
async fn scalar(conn: &mut orm::PgConnection, sql: &str) -> Result<Value> {
    let mut rows = conn.query(sql, &[]).await?;
    assert_eq!(rows.values.len(), 1, "{sql}");
    Ok(rows.values.remove(0))
}

// ---------------------------------------------------------------------------
// TLS
// ---------------------------------------------------------------------------

/// Certificates made with the `openssl` command line in a temporary
/// directory (removed on drop): a CA, a server certificate it signed for
/// `localhost`, and an unrelated second CA.
struct Certs {
    dir: PathBuf,
}

const OPENSSL_CONFIG: &str = "\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
";

impl Certs {
    fn generate() -> Certs {
        let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let dir = std::env::temp_dir().join(format!("orm-certs-{}-{stamp}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let certs = Certs { dir };
        std::fs::write(certs.path("openssl.cnf"), OPENSSL_CONFIG).unwrap();
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-config", "openssl.cnf"];
        for (name, subject) in [("ca", "/CN=orm test CA"), ("other-ca", "/CN=some other CA")] {
            let (key, crt) = (format!("{name}.key"), format!("{name}.crt"));
            certs.openssl(
                &["req", "-x509", "-extensions", "ca", "-days", "2", "-subj", subject, "-keyout", &key, "-out", &crt],
                &ec,
            );
        }
        certs.openssl(&["req", "-new", "-subj", "/CN=localhost", "-keyout", "server.key", "-out", "server.csr"], &ec);
        certs.openssl(
            &["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-set_serial", "2"],
            &["-days", "2", "-extfile", "openssl.cnf", "-extensions", "server", "-out", "server.crt"],
        );
        certs
    }

    fn openssl(&self, args: &[&str], more: &[&str]) {
        let out = Command::new("openssl")
            .args(args)
            .args(more)
            .current_dir(&self.dir)
            .output()
            .expect("the tests need the `openssl` command line tool");
        assert!(out.status.success(), "openssl {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).unwrap()
    }
}

impl Drop for Certs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A cluster that serves `certs`' server certificate and accepts TLS
/// connections only (`hostssl` in pg_hba.conf).
async fn tls_cluster(certs: &Certs) -> TempCluster {
    let mut cluster = TempCluster::init().await.unwrap();
    cluster.write_file("server.crt", &certs.read("server.crt")).unwrap();
    cluster.write_file("server.key", &certs.read("server.key")).unwrap();
    let hba = "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostssl all all ::1/128 trust\n";
    cluster.write_file("pg_hba.conf", hba.as_bytes()).unwrap();
    cluster.start(&[("ssl", "on"), ("ssl_cert_file", "server.crt"), ("ssl_key_file", "server.key")]).await.unwrap();
    cluster
}

/// Connects with `builder` and says whether the session is encrypted.
async fn encrypted(builder: EngineBuilder) -> Result<bool> {
    let engine = builder.pool_size(1).pool_timeout(Duration::from_secs(10)).build()?;
    let mut conn = engine.connect().await?;
    match scalar(&mut conn, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").await? {
        Value::Bool(on) => Ok(on),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn tls_sslmodes_check_what_libpq_checks() {
    let certs = Certs::generate();
    let cluster = tls_cluster(&certs).await;
    let port = cluster.port();
    let ca = certs.read("ca.crt");
    let at = |host: &str, query: &str| format!("postgres://postgres@{host}:{port}/postgres?{query}");
    // Connects to 127.0.0.1 but checks the certificate against `wrong.example`.
    let misnamed = |query: &str| at("wrong.example", &format!("hostaddr=127.0.0.1&{query}"));

    // require: encrypted, nothing checked (the certificate's CA is unknown).
    assert!(encrypted(Engine::builder(&at("127.0.0.1", "sslmode=require"))).await.unwrap());
    // prefer: encrypted when the server can.
    assert!(encrypted(Engine::builder(&at("127.0.0.1", "sslmode=prefer"))).await.unwrap());

    // verify-full with the CA, for the name in the certificate.
    let verified = Engine::builder(&at("localhost", "sslmode=verify-full")).root_cert_pem(ca.clone());
    assert!(encrypted(verified).await.unwrap());

    // verify-full with the CA, for another name: the name check fails.
    let err = encrypted(Engine::builder(&misnamed("sslmode=verify-full")).root_cert_pem(ca.clone())).await.unwrap_err();
    let text = chain(&err);
    assert!(matches!(err, Error::Connection(_)), "{text}");
    assert!(text.contains("cannot connect to wrong.example:"), "names the server: {text}");
    assert!(text.contains("sslmode=verify-full"), "{text}");
    assert!(text.contains("certificate not valid for name \"wrong.example\""), "{text}");

    // verify-ca with the CA (here from the URL's sslrootcert): the chain is
    // checked, the name is not.
    let root = certs.path("ca.crt");
    let url = misnamed(&format!("sslmode=verify-ca&sslrootcert={}", root.display()));
    assert!(encrypted(Engine::builder(&url)).await.unwrap());

    // verify-full or require with a CA that did not sign the certificate.
    for mode in ["verify-full", "require"] {
        let builder =
            Engine::builder(&at("localhost", &format!("sslmode={mode}"))).root_cert_pem(certs.read("other-ca.crt"));
        let err = encrypted(builder).await.unwrap_err();
        let text = chain(&err);
        assert!(matches!(err, Error::Connection(_)), "{text}");
        assert!(text.contains("invalid peer certificate: UnknownIssuer"), "{mode}: {text}");
    }

    // verify-full without a CA: refused when the engine is built.
    let err = Engine::builder(&at("localhost", "sslmode=verify-full")).build().unwrap_err();
    assert!(matches!(err, Error::Config(ref m) if m.contains("sslrootcert=")), "{err}");

    // disable against a server that accepts TLS connections only.
    let err = encrypted(Engine::builder(&at("127.0.0.1", "sslmode=disable"))).await.unwrap_err();
    let db = err.db_error().unwrap_or_else(|| panic!("a database error: {}", chain(&err)));
    assert_eq!(db.code, "28000", "{err}");
    assert!(db.message.contains("no pg_hba.conf entry") && db.message.contains("no encryption"), "{err}");
}

#[tokio::test]
async fn a_root_certificate_that_cannot_be_read_is_a_config_error() {
    let url = "postgres://postgres@localhost/postgres?sslmode=verify-full&sslrootcert=/nonexistent/ca.crt";
    let err = Engine::new(url).unwrap_err();
    assert!(
        matches!(err, Error::Config(ref m) if m.contains("cannot read root certificate file `/nonexistent/ca.crt`")),
        "{err}"
    );
    let err =
        Engine::builder("postgres://h/db?sslmode=verify-ca").root_cert_pem("no certificate here").build().unwrap_err();
    assert!(matches!(err, Error::Config(ref m) if m.contains("no `BEGIN CERTIFICATE` block")), "{err}");
}

// ---------------------------------------------------------------------------
// Connect timeout
// ---------------------------------------------------------------------------

/// A server that accepts TCP connections and never says a word. Returns
/// its port; the sockets stay open while the task runs.
async fn silent_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    port
}

/// Checks out a connection from a server that never answers; returns the
/// error and how long it took.
async fn checkout_from_silent_server(query: &str, pool_timeout: Duration) -> (Error, Duration) {
    let port = silent_server().await;
    let url = format!("postgres://app:hunter2@127.0.0.1:{port}/app{query}");
    let engine = Engine::builder(&url).pool_timeout(pool_timeout).build().unwrap();
    let started = Instant::now();
    let outcome = tokio::time::timeout(Duration::from_secs(20), engine.connect()).await;
    let err = outcome.expect("the checkout ends by itself").expect_err("nothing to connect to");
    (err, started.elapsed())
}

#[tokio::test]
async fn a_server_that_never_answers_fails_the_checkout_within_pool_timeout() {
    let (err, took) = checkout_from_silent_server("", Duration::from_millis(700)).await;
    let text = chain(&err);
    assert!(matches!(err, Error::Connection(_)), "{text}");
    assert!(took >= Duration::from_millis(600) && took < Duration::from_millis(1400), "{took:?}");
    assert!(text.contains("cannot connect to 127.0.0.1:"), "names the server: {text}");
    assert!(text.contains("no answer within 700ms (pool_timeout)"), "{text}");
    assert!(!text.contains("hunter2"), "never the password: {text}");
}

#[tokio::test]
async fn a_server_that_never_answers_fails_the_checkout_within_connect_timeout() {
    let (err, took) = checkout_from_silent_server("?connect_timeout=1", Duration::from_secs(30)).await;
    let text = chain(&err);
    assert!(matches!(err, Error::Connection(_)), "{text}");
    assert!(took >= Duration::from_millis(900) && took < Duration::from_secs(2), "{took:?}");
    assert!(text.contains("no answer within 1s (connect_timeout)"), "{text}");
    assert!(!text.contains("hunter2"), "never the password: {text}");
}

// ---------------------------------------------------------------------------
// Settings of each new connection
// ---------------------------------------------------------------------------

#[tokio::test]
async fn on_connect_sql_runs_on_each_new_connection() {
    let db = TestDb::new().await.unwrap();
    let engine = Engine::builder(db.url())
        .pool_size(2)
        .on_connect("CREATE SCHEMA IF NOT EXISTS app")
        .on_connect("SET search_path TO app, public")
        .build()
        .unwrap();
    let mut first = engine.connect().await.unwrap();
    let mut second = engine.connect().await.unwrap();
    for conn in [&mut first, &mut second] {
        let path = scalar(conn, "SELECT current_setting('search_path')").await.unwrap();
        assert_eq!(path, Value::Text("app, public".into()));
    }
    first.batch_execute("CREATE TABLE t (id int)").await.unwrap();
    let schema = scalar(&mut second, "SELECT table_schema::text FROM information_schema.tables WHERE table_name = 't'");
    assert_eq!(schema.await.unwrap(), Value::Text("app".into()));

    let failing = Engine::builder(db.url()).on_connect("SET no_such_setting TO 1").build().unwrap();
    let err = failing.connect().await.unwrap_err();
    assert!(matches!(err, Error::Database(ref e) if e.code == "42704"), "the statement's own error: {err}");
}

#[tokio::test]
async fn statement_timeout_cancels_a_longer_statement() {
    let db = TestDb::new().await.unwrap();
    let engine = Engine::builder(db.url()).statement_timeout(Duration::from_millis(200)).build().unwrap();
    let mut conn = engine.connect().await.unwrap();
    assert_eq!(
        scalar(&mut conn, "SELECT current_setting('statement_timeout')").await.unwrap(),
        Value::Text("200ms".into())
    );
    let started = Instant::now();
    let err = conn.query("SELECT pg_sleep(5)", &[]).await.unwrap_err();
    assert!(matches!(err, Error::Database(ref e) if e.code == "57014"), "query_canceled: {err}");
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    // The connection stays usable.
    assert_eq!(scalar(&mut conn, "SELECT 1").await.unwrap(), Value::I32(1));
}

#[tokio::test]
async fn application_name_shows_in_pg_stat_activity() {
    let db = TestDb::new().await.unwrap();
    let engine = Engine::builder(db.url()).application_name("orm connect test").build().unwrap();
    let mut conn = engine.connect().await.unwrap();
    let sql = "SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()";
    assert_eq!(scalar(&mut conn, sql).await.unwrap(), Value::Text("orm connect test".into()));
}

// ---------------------------------------------------------------------------
// Pool status
// ---------------------------------------------------------------------------

#[tokio::test]
async fn pool_status_counts_checkouts_waiting_for_a_connection() {
    let db = TestDb::new().await.unwrap();
    let engine =
        Engine::builder(db.url()).pool_size(1).max_overflow(0).pool_timeout(Duration::from_secs(10)).build().unwrap();
    let held = engine.connect().await.unwrap();
    assert_eq!(engine.pool_status().waiting, 0);

    let waiter = tokio::spawn({
        let engine = engine.clone();
        async move { engine.connect().await.map(drop) }
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    while engine.pool_status().waiting == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let status = engine.pool_status();
    assert_eq!((status.open, status.idle, status.max, status.waiting), (1, 0, 1, 1));

    drop(held);
    waiter.await.unwrap().unwrap();
    assert_eq!(engine.pool_status().waiting, 0);
}

#[tokio::test]
async fn setup_failures_of_a_server_without_tls_that_wants_a_password_name_the_cause() {
    let mut cluster = TempCluster::init().await.unwrap();
    let hba = "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n";
    cluster.write_file("pg_hba.conf", hba.as_bytes()).unwrap();
    cluster.start(&[("ssl", "off")]).await.unwrap();
    let port = cluster.port();

    let tls = Engine::new(&format!("postgres://postgres:pw@127.0.0.1:{port}/postgres?sslmode=require")).unwrap();
    let error = tls.connect().await.unwrap_err();
    assert!(matches!(error, Error::Connection(_)), "{error:?}");
    assert!(error.to_string().contains("TLS"), "a refused TLS request says so: {error}");

    let anonymous = Engine::new(&format!("postgres://postgres@127.0.0.1:{port}/postgres?sslmode=disable")).unwrap();
    let error = anonymous.connect().await.unwrap_err();
    assert!(error.to_string().contains("password missing"), "a missing password says so: {error}");
}
