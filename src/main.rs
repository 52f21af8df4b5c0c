//! The `undersigned` command: the server and the operator's tools.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use undersigned::config::Config;
use undersigned::db::actions::ExportFilter;
use undersigned::domain::page::PageFormat;
use undersigned::domain::user::Role;
use undersigned::services::{demo, exports, pages, users};
use undersigned::startup::{Application, open_database};
use undersigned::telemetry;

/// mimalloc rather than glibc's allocator: submissions 9-10% faster (see Cargo.toml).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Deliver the outbox only (no web server): for running delivery apart from `serve`,
    /// whose own worker `mail.worker = false` turns off.
    Worker,
    /// Apply database migrations, then exit.
    Migrate,
    /// Manage targets: the people letters are emailed to.
    Targets {
        #[command(subcommand)]
        command: TargetsCommand,
    },
    /// The district table: which electoral district each postal code is in, for pages that
    /// write to the supporter's own representative.
    Districts {
        #[command(subcommand)]
        command: DistrictsCommand,
    },
    /// Create, update and export pages from files.
    Pages {
        #[command(subcommand)]
        command: PagesCommand,
    },
    /// Export actions.
    Actions {
        #[command(subcommand)]
        command: ActionsCommand,
    },
    /// Manage organisers' accounts.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Move or back up the whole database.
    Db {
        #[command(subcommand)]
        command: DbCommand,
    },
    /// Print the configuration in force (secrets hidden).
    Config,
}

#[derive(Subcommand)]
enum DbCommand {
    /// Copy every table from one database into another, empty one (migrated first), keeping
    /// ids, then compare the row counts: how an instance moves from SQLite to PostgreSQL.
    /// Stop the site (or keep it from taking actions) while copying.
    Copy {
        /// Where from: sqlite:PATH or postgres://...
        #[arg(long)]
        from: String,
        /// Where to: postgres://... (or sqlite:PATH to come back)
        #[arg(long)]
        to: String,
    },
    /// Write a consistent copy of the SQLite database to FILE while the site keeps running.
    Backup { file: PathBuf },
}

#[derive(Subcommand)]
enum UsersCommand {
    /// Create an account. The password is asked for on a terminal, or read from the first
    /// line of standard input; never from the command line, where others could see it.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long, value_enum, default_value_t = RoleArg::Editor)]
        role: RoleArg,
    },
    /// List the accounts.
    List,
}

#[derive(Subcommand)]
enum TargetsCommand {
    /// Create or update targets from a CSV file with the columns key, name, title,
    /// salutation, email, organisation, district, party, language.
    Import { file: PathBuf },
    /// Write every target as CSV to standard output.
    Export,
}

#[derive(Subcommand)]
enum DistrictsCommand {
    /// Add rows from a CSV file with the columns postal_code (a full code, or its first
    /// three characters) and district (as in the targets' district column).
    Import {
        file: PathBuf,
        /// Replace the whole table (new boundaries), in the same transaction.
        #[arg(long)]
        replace: bool,
    },
    /// Write the table as CSV to standard output.
    Export,
}

#[derive(Subcommand)]
enum ActionsCommand {
    /// Write actions as CSV (the columns of the workspace's export) to a file or stdout.
    Export {
        /// Only this campaign's actions (its slug).
        #[arg(long)]
        campaign: Option<String>,
        /// Only this page's actions (its slug).
        #[arg(long)]
        page: Option<String>,
        /// From this day on (YYYY-MM-DD, UTC).
        #[arg(long)]
        from: Option<chrono::NaiveDate>,
        /// Up to and including this day (YYYY-MM-DD, UTC).
        #[arg(long)]
        to: Option<chrono::NaiveDate>,
        /// The file to write [default: standard output].
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum RoleArg {
    Admin,
    Editor,
    Viewer,
}

impl From<RoleArg> for Role {
    fn from(role: RoleArg) -> Self {
        match role {
            RoleArg::Admin => Role::Admin,
            RoleArg::Editor => Role::Editor,
            RoleArg::Viewer => Role::Viewer,
        }
    }
}

fn read_new_password() -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        let password = rpassword::prompt_password("Password (at least 12 characters): ")?;
        let again = rpassword::prompt_password("Password again: ")?;
        if password != again {
            bail!("the two passwords differ");
        }
        Ok(password)
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }
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
    let logging = telemetry::init(config.log_format);

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
                logging.say(&format!(
                    "\n  Demo campaign: {url}/page/dont-abandon-refugees  (French: {url}/page/ne-abandonnez-pas-les-refugies)\n\n"
                ));
            }
            app.run_until_stopped().await?;
        }
        Command::Worker => {
            config.check()?;
            let app = Application::build(config).await?;
            let worker = undersigned::startup::outbox_worker(app.state())?;
            tracing::info!("delivering the outbox; stop with Ctrl-C");
            tokio::select! {
                () = worker.run() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Command::Targets { command: TargetsCommand::Import { file } } => {
            let db = open_database(&config).await?;
            let mut reader =
                csv::Reader::from_path(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let mut targets = Vec::new();
            let mut problems = Vec::new();
            for (line, row) in reader.deserialize::<undersigned::db::targets::Target>().enumerate() {
                let line = line + 2;
                match row {
                    Ok(target) => {
                        let target = undersigned::services::targets::tidy(target);
                        for (field, problem) in undersigned::services::targets::problems(&target) {
                            problems.push(format!("row {line}: {field} {problem}"));
                        }
                        targets.push(target);
                    }
                    Err(error) => problems.push(format!("row {line}: {error}")),
                }
            }
            if !problems.is_empty() {
                anyhow::bail!("{}: nothing imported:\n  {}", file.display(), problems.join("\n  "));
            }
            for target in &targets {
                undersigned::db::targets::save(&db, target).await?;
            }
            println!("imported {} targets", targets.len());
        }
        Command::Targets { command: TargetsCommand::Export } => {
            let db = open_database(&config).await?;
            let mut writer = csv::Writer::from_writer(std::io::stdout().lock());
            for target in undersigned::db::targets::list(&db).await? {
                writer.serialize(target)?;
            }
            writer.flush()?;
        }
        Command::Districts { command: DistrictsCommand::Import { file, replace } } => {
            let db = open_database(&config).await?;
            let reader = std::fs::File::open(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let rows = undersigned::services::targets::read_districts(reader).map_err(|problems| {
                anyhow::anyhow!("{}: nothing imported:\n  {}", file.display(), problems.join("\n  "))
            })?;
            let total = undersigned::db::districts::import(&db, &rows, replace).await?;
            println!("imported {} rows; the district table has {total}", rows.len());
        }
        Command::Districts { command: DistrictsCommand::Export } => {
            let db = open_database(&config).await?;
            let mut writer = csv::Writer::from_writer(std::io::stdout().lock());
            writer.write_record(["postal_code", "district"])?;
            for (postal_code, district) in undersigned::db::districts::list(&db).await? {
                writer.write_record([postal_code, district])?;
            }
            writer.flush()?;
        }
        Command::Db { command: DbCommand::Copy { from, to } } => {
            let source = undersigned::db::Db::connect(&from).await.with_context(|| format!("cannot open {from}"))?;
            let destination = undersigned::db::Db::connect(&to).await.with_context(|| format!("cannot open {to}"))?;
            source.migrate().await.context("the source database")?;
            destination.migrate().await.context("the destination database")?;
            println!("{:<16} {:>12} {:>12}", "table", "source", "copied");
            let counts = undersigned::db::copy::copy_all(&source, &destination, |c| {
                println!("{:<16} {:>12} {:>12}", c.table, c.source, c.destination);
            })
            .await?;
            let rows: i64 = counts.iter().map(|c| c.destination).sum();
            println!("copied {rows} rows in {} tables; every count matches", counts.len());
            source.close().await;
            destination.close().await;
        }
        Command::Db { command: DbCommand::Backup { file } } => {
            if file.exists() {
                anyhow::bail!("{} exists already; choose a new file", file.display());
            }
            let db = open_database(&config).await?;
            match db.backup_sqlite(&file).await? {
                Some(()) => println!("backed up to {}", file.display()),
                None => anyhow::bail!("the database is PostgreSQL: back it up with pg_dump (see docs/operations.md)"),
            }
        }
        Command::Migrate => {
            let db = open_database(&config).await?;
            println!("migrations applied ({})", db.backend_name());
        }
        Command::Pages { command: PagesCommand::Import { files } } => {
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
                        let what = if imported.created { "created" } else { "updated" };
                        println!("{what} page {} from {}", imported.slug, file.display());
                    }
                    Err(error) => {
                        failed += 1;
                        logging.say(&format!("{}: {error}\n", file.display()));
                    }
                }
            }
            if failed > 0 {
                bail!("{failed} of {} files were not imported; nothing was changed for them", files.len());
            }
        }
        Command::Pages { command: PagesCommand::Export { slug, format } } => {
            let db = open_database(&config).await?;
            let spec = pages::export_page(&db, &slug).await?;
            let format = match format {
                FileFormat::Toml => PageFormat::Toml,
                FileFormat::Yaml => PageFormat::Yaml,
            };
            let text = spec.to_text(format).map_err(anyhow::Error::msg).context("cannot write the page")?;
            std::io::stdout().write_all(text.as_bytes())?;
        }
        Command::Actions { command: ActionsCommand::Export { campaign, page, from, to, output } } => {
            let db = open_database(&config).await?;
            let start_of = |day: chrono::NaiveDate| day.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
            let filter = ExportFilter {
                campaign,
                page,
                from: from.and_then(start_of),
                until: to.and_then(|day| day.succ_opt()).and_then(start_of),
            };
            let total = undersigned::db::actions::export_count(&db, &filter).await?;
            let progress = if std::io::stderr().is_terminal() {
                ProgressBar::new(total.max(0) as u64)
            } else {
                ProgressBar::hidden()
            };
            progress.set_style(
                ProgressStyle::with_template("{bar:40} {pos}/{len} actions ({per_sec}, {eta} left)")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            let mut out: Box<dyn Write> = match &output {
                Some(path) => Box::new(std::io::BufWriter::new(
                    std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
                )),
                None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
            };
            let counter = progress.clone();
            let chunks = exports::stream(db, filter, move |rows| counter.inc(rows as u64));
            futures_util::pin_mut!(chunks);
            while let Some(chunk) = futures_util::StreamExt::next(&mut chunks).await {
                out.write_all(&chunk?)?;
            }
            out.flush()?;
            progress.finish_and_clear();
            if let Some(path) = output {
                logging.say(&format!("exported {total} actions to {}\n", path.display()));
            }
        }
        Command::Users { command: UsersCommand::Create { email, role } } => {
            let db = open_database(&config).await?;
            let password = read_new_password()?;
            let user = users::create_user(&db, &email, role.into(), &password).await?;
            println!("created {} account for {}", user.role.as_str(), user.email);
        }
        Command::Users { command: UsersCommand::List } => {
            let db = open_database(&config).await?;
            for user in undersigned::db::users::list(&db).await? {
                println!("{}\t{}\t{}", user.email, user.role.as_str(), user.created_at.format("%Y-%m-%d"));
            }
        }
        Command::Config => {
            config.check()?;
            print!("{}", config.to_redacted_toml());
        }
    }
    Ok(())
}
