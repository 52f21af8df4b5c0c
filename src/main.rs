//! The `undersigned` command: the server and the operator's tools.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use undersigned::config::Config;
use undersigned::domain::page::PageFormat;
use undersigned::services::{demo, pages};
use undersigned::startup::{Application, open_database};
use undersigned::telemetry;

/// Action pages for advocacy campaigns: petitions and letters to decision-makers.
#[derive(Parser)]
#[command(name = "undersigned", version, about)]
struct Cli {
    /// TOML configuration file [default: ./undersigned.toml when it exists; env UNDERSIGNED_CONFIG]
    #[arg(long, global = true, env = "UNDERSIGNED_CONFIG")]
    config: Option<PathBuf>,
    /// Directory for the SQLite database and the secret key [default: ./data; env UNDERSIGNED_DATA_DIR]
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// sqlite:PATH or postgres://... [default: a SQLite file in the data directory; env UNDERSIGNED_DATABASE_URL]
    #[arg(long, global = true)]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web server.
    Serve {
        /// Address to listen on [default: 127.0.0.1:8080; env UNDERSIGNED_LISTEN]
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Load the demo campaign if it is not there yet.
        #[arg(long)]
        demo: bool,
    },
    /// Apply database migrations, then exit.
    Migrate,
    /// Create, update and export pages from files.
    Pages {
        #[command(subcommand)]
        command: PagesCommand,
    },
    /// Print the configuration in force (secrets hidden).
    Config,
}

#[derive(Subcommand)]
enum PagesCommand {
    /// Create or replace pages from TOML or YAML files (one page per file).
    Import {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print a page as a file that `pages import` reads back.
    Export {
        slug: String,
        #[arg(long, value_enum, default_value_t = FileFormat::Toml)]
        format: FileFormat,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum FileFormat {
    Toml,
    Yaml,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut config = Config::load(cli.config.as_deref())?;
    if let Some(dir) = cli.data_dir {
        config.data_dir = dir;
    }
    if let Some(url) = cli.database_url {
        config.database_url = Some(url);
    }
    telemetry::init(config.log_format);

    match cli.command {
        Command::Serve { listen, demo } => {
            if let Some(listen) = listen {
                config.listen = listen;
            }
            config.check()?;
            let app = Application::build(config).await?;
            if demo {
                let loaded = demo::load_demo(&app.state().db).await?;
                for slug in &loaded {
                    tracing::info!(%slug, "demo page loaded");
                }
            }
            let url = app.state().public_url.clone();
            tracing::info!(%url, address = %app.local_addr()?, "listening");
            if demo {
                eprintln!(
                    "\n  Demo campaign: {url}/page/dont-abandon-refugees  (French: {url}/page/ne-abandonnez-pas-les-refugies)\n"
                );
            }
            app.run_until_stopped().await?;
        }
        Command::Migrate => {
            let db = open_database(&config).await?;
            println!("migrations applied ({})", db.backend_name());
        }
        Command::Pages {
            command: PagesCommand::Import { files },
        } => {
            let db = open_database(&config).await?;
            let mut failed = 0;
            for file in &files {
                let result = async {
                    let spec = pages::read_page_file(file)?;
                    pages::import_page(&db, &spec).await
                }
                .await;
                match result {
                    Ok(imported) => {
                        let what = if imported.created {
                            "created"
                        } else {
                            "updated"
                        };
                        println!("{what} page {} from {}", imported.slug, file.display());
                    }
                    Err(error) => {
                        failed += 1;
                        eprintln!("{}: {error}", file.display());
                    }
                }
            }
            if failed > 0 {
                bail!(
                    "{failed} of {} files were not imported; nothing was changed for them",
                    files.len()
                );
            }
        }
        Command::Pages {
            command: PagesCommand::Export { slug, format },
        } => {
            let db = open_database(&config).await?;
            let spec = pages::export_page(&db, &slug).await?;
            let format = match format {
                FileFormat::Toml => PageFormat::Toml,
                FileFormat::Yaml => PageFormat::Yaml,
            };
            let text = spec
                .to_text(format)
                .map_err(anyhow::Error::msg)
                .context("cannot write the page")?;
            std::io::stdout().write_all(text.as_bytes())?;
        }
        Command::Config => {
            config.check()?;
            print!("{}", config.to_redacted_toml());
        }
    }
    Ok(())
}
