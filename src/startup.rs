//! Assembling the server: configuration, database, secret key, router and listener.

use std::io;
use std::net::SocketAddr;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::db::{Db, DbError};
use crate::web::{AppState, router};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot create the data directory {path}: {source}")]
    DataDir { path: String, source: io::Error },
    #[error("cannot read or create the secret key {path}: {source}")]
    SecretKey { path: String, source: io::Error },
    #[error("cannot listen on {address}: {source}")]
    Listen { address: SocketAddr, source: io::Error },
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Opens the database named by the configuration and brings its schema up to date.
pub async fn open_database(config: &Config) -> Result<Db, StartupError> {
    ensure_data_dir(config)?;
    let db = Db::connect_with(&config.database_url(), config.database_max_connections).await?;
    db.migrate().await?;
    Ok(db)
}

fn ensure_data_dir(config: &Config) -> Result<(), StartupError> {
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|source| StartupError::DataDir { path: config.data_dir.display().to_string(), source })
}

/// A server bound to its address, ready to run.
pub struct Application {
    listener: TcpListener,
    state: AppState,
}

impl Application {
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        let db = open_database(&config).await?;
        let secret = secret_key(&config)?;
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|source| StartupError::Listen { address: config.listen, source })?;
        let address =
            listener.local_addr().map_err(|source| StartupError::Listen { address: config.listen, source })?;
        let public_url = match &config.public_url {
            Some(_) => config.public_url(),
            None => format!("http://{address}"),
        };
        let state = AppState::new(db, config, &secret, public_url);
        Ok(Self { listener, state })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until SIGINT or SIGTERM, then finishes the requests under way.
    pub async fn run_until_stopped(self) -> io::Result<()> {
        let app = router(self.state.clone()).into_make_service_with_connect_info::<SocketAddr>();
        let flusher = tokio::spawn(flush_page_views(self.state.clone()));
        let worker = match self.state.config.mail.worker {
            true => Some(tokio::spawn(outbox_worker(&self.state)?.run())),
            false => None,
        };
        axum::serve(self.listener, app).with_graceful_shutdown(shutdown_signal()).await?;
        flusher.abort();
        if let Some(worker) = worker {
            worker.abort();
        }
        if let Err(error) = self.state.page_views.flush(&self.state.db).await {
            tracing::warn!(%error, "could not write the last page views");
        }
        self.state.db.close().await;
        Ok(())
    }
}

/// The outbox worker for this configuration.
pub fn outbox_worker(state: &AppState) -> io::Result<crate::jobs::outbox::OutboxWorker> {
    let mailer = crate::email::Mailer::from_config(&state.config).map_err(io::Error::other)?;
    Ok(crate::jobs::outbox::OutboxWorker::new(state.db.clone(), mailer, state.config.mail.clone(), state.site.clone()))
}

/// Writes counted page views every few seconds.
async fn flush_page_views(state: AppState) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(5));
    loop {
        every.tick().await;
        if let Err(error) = state.page_views.flush(&state.db).await {
            tracing::warn!(%error, "could not write page views; will retry");
        }
    }
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests under way");
}

/// The configured secret key, or the one kept in `data_dir/secret.key`, created (readable
/// by this user only) on first start.
fn secret_key(config: &Config) -> Result<Vec<u8>, StartupError> {
    if let Some(key) = &config.secret_key {
        return Ok(key.as_bytes().to_vec());
    }
    ensure_data_dir(config)?;
    let path = config.data_dir.join("secret.key");
    let error = |source| StartupError::SecretKey { path: path.display().to_string(), source };
    match create_secret_file(&path) {
        Ok(key) => Ok(key),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let key = std::fs::read_to_string(&path).map_err(error)?;
            let key = key.trim();
            if key.len() < 32 {
                return Err(error(io::Error::new(io::ErrorKind::InvalidData, "the key is shorter than 32 characters")));
            }
            Ok(key.as_bytes().to_vec())
        }
        Err(e) => Err(error(e)),
    }
}

fn create_secret_file(path: &Path) -> io::Result<Vec<u8>> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    let key = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    file.write_all(key.as_bytes())?;
    file.sync_all()?;
    Ok(key.into_bytes())
}
