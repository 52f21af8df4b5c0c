//! Typed configuration. Each layer overrides the one before it: safe defaults for a laptop,
//! then the TOML file (`--config`, or `./undersigned.toml` when present), then environment
//! variables (`UNDERSIGNED_LISTEN`, `UNDERSIGNED_RATE_LIMIT__ACTIONS_BURST`, ...), then
//! command-line flags.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use url::Url;

/// The file read when no `--config` is given, if it exists.
pub const DEFAULT_CONFIG_FILE: &str = "undersigned.toml";

#[derive(Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Address and port the server listens on.
    pub listen: SocketAddr,
    /// Where the SQLite database, the generated secret key and the local outbox live.
    pub data_dir: PathBuf,
    /// `sqlite:PATH` or `postgres://...`; by default a SQLite file in `data_dir`.
    pub database_url: Option<String>,
    /// PostgreSQL connections this node may open. Every node opens its own: keep
    /// nodes × this (plus any `worker` processes) under the server's `max_connections`.
    pub database_max_connections: u32,
    /// The address the public reaches the site at, used in share links and to decide
    /// whether cookies are marked Secure. Defaults to `http://` + `listen`.
    pub public_url: Option<String>,
    /// Key that signs form tokens. Every node of one site must share it. When absent, one
    /// is generated into `data_dir/secret.key` on first start.
    pub secret_key: Option<String>,
    /// Trust the last address of `X-Forwarded-For` as the client's (set only when a
    /// reverse proxy that appends it is the only way in).
    pub behind_proxy: bool,
    pub rate_limit: RateLimitConfig,
    /// `text` for people, `json` for log collectors.
    pub log_format: LogFormat,
    pub mail: MailConfig,
}

/// Outgoing email: who it comes from, how it leaves, and how the outbox worker retries.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct MailConfig {
    /// The organisation's address. Every message is From it, so that SPF, DKIM and DMARC
    /// pass; supporters appear in Reply-To, never as a forged From.
    pub from_address: String,
    pub from_name: String,
    /// `file` (one .eml per message in `outbox_dir`, the default) or `smtp`.
    pub transport: MailTransport,
    /// For the file transport; default `<data_dir>/outbox`.
    pub outbox_dir: Option<PathBuf>,
    pub smtp_host: String,
    pub smtp_port: u16,
    /// `starttls` (port 587), `tls` (port 465) or `none` (a relay on the same machine only).
    pub smtp_security: SmtpSecurity,
    pub smtp_username: Option<String>,
    pub smtp_password: Option<String>,
    /// Run the delivery worker inside `serve` (or only in `undersigned worker`).
    pub worker: bool,
    /// How often the worker looks for messages that are due.
    pub poll_interval_ms: u64,
    /// The first retry waits this long; each further one twice as long, up to an hour.
    pub retry_base_ms: u64,
    /// After this many failed attempts a message is marked failed.
    pub max_attempts: i32,
    /// How long a worker may hold a message it claimed before another may take it.
    pub lease_secs: u64,
    /// On pages that verify senders: how long the confirmation link works. Unconfirmed
    /// actions are purged after it.
    pub confirm_link_hours: u64,
    /// On pages with daily digests: the hour (0-23, UTC) at which each target's digest of
    /// the previous day's letters leaves.
    pub digest_hour_utc: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailTransport {
    File,
    Smtp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    Starttls,
    Tls,
    None,
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            from_address: "campaigns@example.org".into(),
            from_name: "Undersigned".into(),
            transport: MailTransport::File,
            outbox_dir: None,
            smtp_host: "localhost".into(),
            smtp_port: 587,
            smtp_security: SmtpSecurity::Starttls,
            smtp_username: None,
            smtp_password: None,
            worker: true,
            poll_interval_ms: 1_000,
            retry_base_ms: 30_000,
            max_attempts: 12,
            lease_secs: 120,
            confirm_link_hours: 72,
            digest_hour_utc: 17,
        }
    }
}

/// Per-client-address limits on submissions.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct RateLimitConfig {
    /// How many actions one address may submit in a burst.
    pub actions_burst: u32,
    /// After the burst, one more action is allowed every this many milliseconds.
    pub actions_refill_ms: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("data"),
            database_url: None,
            database_max_connections: 20,
            public_url: None,
            secret_key: None,
            behind_proxy: false,
            rate_limit: RateLimitConfig::default(),
            log_format: LogFormat::Text,
            mail: MailConfig::default(),
        }
    }
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        // A family or an office behind one address can act together; a script cannot
        // sustain more than ten a minute.
        Self { actions_burst: 20, actions_refill_ms: 6_000 }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {0} does not exist")]
    MissingFile(PathBuf),
    #[error("invalid configuration: {0}")]
    Invalid(#[from] Box<figment::Error>),
    #[error("invalid configuration: {0}")]
    Unsafe(String),
}

impl Config {
    /// Reads the defaults, the TOML file and the environment, in that order.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) if !path.exists() => {
                return Err(ConfigError::MissingFile(path.to_path_buf()));
            }
            Some(path) => figment = figment.merge(Toml::file(path)),
            None if Path::new(DEFAULT_CONFIG_FILE).exists() => figment = figment.merge(Toml::file(DEFAULT_CONFIG_FILE)),
            None => {}
        }
        let config: Config = figment
            .merge(Env::prefixed("UNDERSIGNED_").split("__"))
            .extract()
            .map_err(|e| ConfigError::Invalid(Box::new(e)))?;
        config.check()?;
        Ok(config)
    }

    /// Refuses settings that cannot work or would be unsafe.
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.rate_limit.actions_burst == 0 || self.rate_limit.actions_refill_ms == 0 {
            return Err(ConfigError::Unsafe(
                "rate_limit.actions_burst and rate_limit.actions_refill_ms must be above zero".into(),
            ));
        }
        if let Some(url) = &self.public_url {
            let parsed = Url::parse(url).map_err(|e| ConfigError::Unsafe(format!("public_url {url:?}: {e}")))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(ConfigError::Unsafe(format!("public_url {url:?} must start with http:// or https://")));
            }
        }
        if email_address::EmailAddress::parse_with_options(&self.mail.from_address, Default::default()).is_err() {
            return Err(ConfigError::Unsafe(format!(
                "mail.from_address {:?} is not an email address",
                self.mail.from_address
            )));
        }
        if self.mail.poll_interval_ms == 0
            || self.mail.retry_base_ms == 0
            || self.mail.lease_secs == 0
            || self.mail.max_attempts < 1
        {
            return Err(ConfigError::Unsafe(
                "mail.poll_interval_ms, retry_base_ms, lease_secs and max_attempts must be above zero".into(),
            ));
        }
        if self.mail.digest_hour_utc > 23 {
            return Err(ConfigError::Unsafe("mail.digest_hour_utc must be an hour from 0 to 23".into()));
        }
        if self.secret_key.as_ref().is_some_and(|key| key.len() < 32) {
            return Err(ConfigError::Unsafe("secret_key must be at least 32 characters long".into()));
        }
        Ok(())
    }

    /// The database URL in force: the configured one, or a SQLite file in `data_dir`.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) if !url.is_empty() => url.clone(),
            _ => format!("sqlite://{}", self.data_dir.join("undersigned.db").display()),
        }
    }

    /// Where the file transport writes messages.
    pub fn outbox_dir(&self) -> PathBuf {
        self.mail.outbox_dir.clone().unwrap_or_else(|| self.data_dir.join("outbox"))
    }

    /// The base URL of the public site, without a trailing slash.
    pub fn public_url(&self) -> String {
        let url = match &self.public_url {
            Some(url) => url.clone(),
            None => format!("http://{}", self.listen),
        };
        url.trim_end_matches('/').to_string()
    }

    /// The configuration as TOML, with the secret key hidden, for `undersigned config`.
    pub fn to_redacted_toml(&self) -> String {
        let mut shown = self.clone();
        if shown.secret_key.is_some() {
            shown.secret_key = Some("<redacted>".into());
        }
        if let Some(url) = &shown.database_url {
            shown.database_url = Some(redact_password(url));
        }
        if shown.mail.smtp_password.is_some() {
            shown.mail.smtp_password = Some("<redacted>".into());
        }
        toml::to_string_pretty(&shown).unwrap_or_else(|e| format!("# cannot show the configuration: {e}\n"))
    }
}

/// Hides the password of a database URL.
fn redact_password(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("redacted"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("database_url", &self.database_url.as_deref().map(redact_password))
            .field("public_url", &self.public_url)
            .field("secret_key", &self.secret_key.as_ref().map(|_| "<redacted>"))
            .field("behind_proxy", &self.behind_proxy)
            .field("rate_limit", &self.rate_limit)
            .field("log_format", &self.log_format)
            .field("mail.transport", &self.mail.transport)
            .field("mail.smtp_password", &self.mail.smtp_password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_suit_a_laptop() {
        let config = Config::default();
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.database_url(), "sqlite://data/undersigned.db");
        assert_eq!(config.public_url(), "http://127.0.0.1:8080");
    }

    #[test]
    fn secrets_never_show() {
        let config = Config {
            secret_key: Some("k".repeat(40)),
            database_url: Some("postgres://app:hunter2@db/undersigned".into()),
            mail: MailConfig { smtp_password: Some("smtp-secret".into()), ..MailConfig::default() },
            ..Config::default()
        };
        for shown in [format!("{config:?}"), config.to_redacted_toml()] {
            assert!(!shown.contains("kkkk") && !shown.contains("hunter2") && !shown.contains("smtp-secret"), "{shown}");
        }
    }

    #[test]
    fn unsafe_settings_are_refused() {
        let short_key = Config { secret_key: Some("short".into()), ..Config::default() };
        assert!(short_key.check().is_err());
        let bad_url = Config { public_url: Some("ftp://example.org".into()), ..Config::default() };
        assert!(bad_url.check().is_err());
    }
}
