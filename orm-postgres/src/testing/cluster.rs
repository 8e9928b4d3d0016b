//! A PostgreSQL cluster of one test's own, for server settings the shared
//! server cannot have: TLS certificates, a `pg_hba.conf` that refuses plain
//! connections.

use std::fs;
use std::path::{Path, PathBuf};

use orm_core::{Error, Result};

use super::{
    blocking, chown_to_postgres, exe, find_bin_dir, initdb, pg_ctl_start, run, running_as_root, unique_name,
    version_roots,
};

/// A throwaway PostgreSQL cluster of one test's own, listening on
/// `127.0.0.1` on a free port, with trust authentication and the
/// `postgres` user. Dropping it stops the server and deletes its files.
///
/// Unlike the shared server of [`server_url`](super::server_url), it needs
/// PostgreSQL's binaries (`initdb`, `pg_ctl`) on this machine; as root, it
/// runs them as the `postgres` user.
///
/// ```no_run
/// # async fn demo(cert: &[u8], key: &[u8]) -> orm_core::Result<()> {
/// use orm_postgres::testing::TempCluster;
///
/// let mut cluster = TempCluster::init().await?;
/// cluster.write_file("server.crt", cert)?;
/// cluster.write_file("server.key", key)?;
/// cluster.write_file("pg_hba.conf", b"hostssl all all 127.0.0.1/32 trust\n")?;
/// cluster.start(&[("ssl", "on"), ("ssl_cert_file", "server.crt"), ("ssl_key_file", "server.key")]).await?;
/// let url = format!("{}?sslmode=require", cluster.url());
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct TempCluster {
    /// Holds `data/` and the server's `log`.
    dir: PathBuf,
    bin: PathBuf,
    as_postgres: bool,
    port: u16,
    started: bool,
}

impl TempCluster {
    /// Creates the cluster (`initdb` into a new directory under the system
    /// temporary directory) and picks a free port. Does not start it.
    ///
    /// # Errors
    /// [`Error::Config`] when PostgreSQL's binaries are not found or
    /// `initdb` fails; the message says which and why.
    pub async fn init() -> Result<TempCluster> {
        let bin = find_bin_dir(std::env::var_os("PATH").as_deref(), &version_roots()).ok_or_else(|| {
            Error::Config(
                "a test cluster needs PostgreSQL's initdb and pg_ctl, in PATH or /usr/lib/postgresql/<version>/bin"
                    .into(),
            )
        })?;
        let dir = std::env::temp_dir().join(format!("orm-cluster-{}", unique_name()));
        let setup = {
            let (bin, dir) = (bin.clone(), dir.clone());
            blocking(move || {
                let as_postgres = running_as_root()?;
                fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
                if as_postgres {
                    chown_to_postgres(&dir)?;
                }
                initdb(&bin, &dir.join("data"), &dir, as_postgres)?;
                Ok(as_postgres)
            })
            .await
        };
        let as_postgres = setup.map_err(|e| {
            let _ = fs::remove_dir_all(&dir);
            Error::Config(format!("cannot create a test cluster: {e}"))
        })?;
        let port = free_port()?;
        Ok(TempCluster { dir, bin, as_postgres, port, started: false })
    }

    /// The data directory: relative file names in the server's settings
    /// (`ssl_cert_file = 'server.crt'`) are found here.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Writes `name` into the data directory, readable by the server only
    /// (mode 0600, owned by the `postgres` user when running as root), as
    /// PostgreSQL wants a private key. `pg_hba.conf` replaces the
    /// authentication rules.
    ///
    /// # Errors
    /// [`Error::Config`] naming the file when it cannot be written.
    pub fn write_file(&self, name: &str, contents: &[u8]) -> Result<PathBuf> {
        let path = self.data_dir().join(name);
        write_private(&path, contents, self.as_postgres)
            .map_err(|e| Error::Config(format!("cannot write {}: {e}", path.display())))?;
        Ok(path)
    }

    /// Starts the server with `settings` (as `postgres -c name=value`) and
    /// waits until it runs.
    ///
    /// # Errors
    /// [`Error::Config`] with the end of the server's log when it does not
    /// start (e.g. a key file it may not read).
    pub async fn start(&mut self, settings: &[(&str, &str)]) -> Result<()> {
        let (bin, data, dir, port, as_postgres) =
            (self.bin.clone(), self.data_dir(), self.dir.clone(), self.port, self.as_postgres);
        let settings: Vec<(String, String)> = settings.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        self.started = true;
        blocking(move || {
            let settings: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            pg_ctl_start(&bin, &data, port, &settings, &dir, as_postgres)
        })
        .await
        .map_err(|e| Error::Config(format!("cannot start the test cluster: {e}")))
    }

    /// The port the server listens on, on `127.0.0.1`.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `postgres://postgres@127.0.0.1:<port>/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for TempCluster {
    /// Stops the server (immediate mode: nothing to keep) and deletes the
    /// directory. Failures are printed to stderr, never raised.
    fn drop(&mut self) {
        if self.started {
            let args = ["stop".into(), "-D".into(), self.data_dir().into(), "-m".into(), "immediate".into()];
            if let Err(e) = run(&self.bin.join(exe("pg_ctl")), &args, &self.dir, self.as_postgres) {
                eprintln!("warning: could not stop the test cluster in {}: {e}", self.dir.display());
            }
        }
        if let Err(e) = fs::remove_dir_all(&self.dir) {
            eprintln!("warning: could not remove the test cluster {}: {e}", self.dir.display());
        }
    }
}

/// A port nothing listens on now, picked by the system (not 54329, which the
/// shared throwaway cluster prefers).
fn free_port() -> Result<u16> {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|e| Error::Config(format!("cannot find a free port on 127.0.0.1: {e}")))
}

/// Writes a file with mode 0600, owned by `postgres` when `as_postgres`.
fn write_private(path: &Path, contents: &[u8], as_postgres: bool) -> std::result::Result<(), String> {
    fs::write(path, contents).map_err(|e| e.to_string())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(|e| e.to_string())?;
    }
    if as_postgres {
        chown_to_postgres(path)?;
    }
    Ok(())
}
