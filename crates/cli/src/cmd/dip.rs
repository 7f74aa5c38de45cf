//! `drgdip dip group|build|compile|info`, and the DIP part of `drgdip explain`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use drgdip_grouper::dip::build::{self, BuildConfig, BuildReport, History, ReportType, Threshold};
use drgdip_grouper::dip::stats::Trim;
use drgdip_grouper::dip::{Catalog, CatalogSource, DipCase, DipExplanation, DipStep, Layer};
use drgdip_io::dip::{DIP_COLUMNS, parse_dip_case};
use drgdip_io::fields::FieldError;
use drgdip_io::history::read_dip_history;
use drgdip_io::stream::{MAX_COLUMNS, Row};
use drgdip_io::{DipGroupJob, Options, Summary};

use super::format_of;
use super::{open_input, open_output, pool};
use crate::Outcome;

/// DIP subcommands.
#[derive(clap::Subcommand)]
pub enum DipCommand {
    /// Group a file of cases into DIP disease types.
    Group(GroupArgs),
    /// Build a catalogue (types, scores, CVs, primary-care candidates) from history, or
    /// (`--national`) calibrate the national catalogue on it.
    Build(Box<BuildArgs>),
    /// Score a catalogue's own types from history, without changing the catalogue: a
    /// scores file (`dip_code,score,mean_cost,cases,cv,name`) for the policy's
    /// `[dip] scores`.
    Scores(super::calibrate::ScoresArgs),
    /// Compile a catalogue folder (or the national `.xlsx` workbook) into one file.
    Compile {
        /// Catalogue folder or national workbook (`.xlsx`).
        catalog: PathBuf,
        /// Output file (e.g. `demo.dipc`).
        #[arg(long, short)]
        output: PathBuf,
    },
    /// Print name, version, options and sizes of a catalogue (folder, compiled file or
    /// national workbook).
    Info {
        /// Catalogue folder, compiled file or national workbook (`.xlsx`).
        catalog: PathBuf,
    },
}

/// Arguments of `drgdip dip group`.
#[derive(clap::Args)]
pub struct GroupArgs {
    /// Catalogue folder, compiled catalogue file, or NHSA's national DIP workbook (`.xlsx`).
    #[arg(long)]
    pub catalog: PathBuf,
    #[command(flatten)]
    pub files: super::JobFiles,
}

/// Arguments of `drgdip dip build`.
#[derive(clap::Args)]
pub struct BuildArgs {
    /// History file: cases with `case_id,diagnoses,procedures,total_cost` and `year` or
    /// `discharge_date`, optionally `hospital_level` (0 = primary care).
    #[arg(long)]
    pub history: String,
    /// Output catalogue folder (created; `report.json` is written beside the tables).
    #[arg(long)]
    pub output: PathBuf,
    /// Core types need at least this many cases [default: 15].
    #[arg(long, conflicts_with = "coverage")]
    pub threshold: Option<u64>,
    /// Instead of a threshold: the share of cases core types must cover (e.g. 0.95).
    #[arg(long)]
    pub coverage: Option<f64>,
    /// Year weights, oldest first; the newest year takes the last.
    #[arg(long, default_value = "1:2:7")]
    pub year_weights: String,
    /// Score of a type whose mean cost equals the overall mean.
    #[arg(long, default_value_t = 1000)]
    pub scale: u32,
    /// Decimal places of the scores.
    #[arg(long, default_value_t = 2)]
    pub decimals: u32,
    /// Lower trimming quantile in percent.
    #[arg(long, default_value_t = 2.5)]
    pub trim_low: f64,
    /// Upper trimming quantile in percent.
    #[arg(long, default_value_t = 97.5)]
    pub trim_high: f64,
    /// Related procedures form their own type when they raise the mean cost by this
    /// many percent.
    #[arg(long, default_value_t = 10)]
    pub related_gain: u32,
    /// Primary-care candidates: CV at most this.
    #[arg(long, default_value_t = 0.7)]
    pub primary_cv: f64,
    /// Primary-care candidates: at least this share of cases treated in primary care.
    #[arg(long, default_value_t = 0.3)]
    pub primary_share: f64,
    /// A catalogue folder whose tables (procedure attributes, exclusions, auxiliary
    /// sub-types, CCI, diagnosis lists) and options the built catalogue takes over.
    #[arg(long, conflicts_with = "national")]
    pub tables: Option<PathBuf>,
    /// Calibrate this catalogue instead of building types from scratch: NHSA's national
    /// DIP workbook (`.xlsx`) or a catalogue folder. Its types with at least the
    /// threshold of cases get scores from the history; the others fold; composite types
    /// take the cases no kept type takes (needs `--attributes`). See docs/dip-catalog.md,
    /// "Calibrating the national catalogue".
    #[arg(long)]
    pub national: Option<PathBuf>,
    /// With `--national`: the city's procedure-attribute table (`code,attribute[,name]`,
    /// as `procedure_attributes.csv`). Without it no composite type is made and the cases
    /// no kept type takes stay ungrouped.
    #[arg(long, requires = "national")]
    pub attributes: Option<PathBuf>,
    /// Catalogue name.
    #[arg(long, default_value = "built-dip")]
    pub name: String,
    /// Catalogue version.
    #[arg(long, default_value = "1")]
    pub version: String,
    /// Region.
    #[arg(long, default_value = "")]
    pub region: String,
    /// Write each history row's acceptance (`case_id,status,message`) here.
    #[arg(long)]
    pub rejects: Option<String>,
    /// Worker threads (0 = all cores).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Input format (default: from the file name).
    #[arg(long, value_parser = ["csv", "jsonl"])]
    pub format: Option<String>,
}

/// Loads a catalogue: a compiled file (`drgdip dip compile`), a catalogue folder, or
/// NHSA's national DIP workbook (`.xlsx`, read and compiled directly).
pub fn load_catalog(path: &Path) -> Result<Catalog> {
    Ok(drgdip_grouper::open_catalog(path)?)
}

/// Parses `1:2:7`.
pub fn parse_year_weights(text: &str) -> Result<Vec<u32>> {
    let w: Vec<u32> = text
        .split(':')
        .map(|p| p.trim().parse::<u32>())
        .collect::<Result<_, _>>()
        .with_context(|| format!("--year-weights `{text}`: write whole numbers like 1:2:7"))?;
    if w.is_empty() || w.contains(&0) {
        bail!("--year-weights `{text}`: every weight must be above 0");
    }
    Ok(w)
}

/// Trimming quantiles in percent → [`Trim`].
pub fn parse_trim(low: f64, high: f64) -> Result<Trim> {
    if !(0.0..100.0).contains(&low) || !(0.0..=100.0).contains(&high) || low >= high {
        bail!("--trim-low {low} / --trim-high {high}: need 0 <= low < high <= 100");
    }
    Ok(Trim {
        low_permille: (low * 10.0).round() as u32,
        high_permille: (high * 10.0).round() as u32,
    })
}

/// Runs a DIP subcommand.
pub fn run(cmd: DipCommand) -> Result<Outcome> {
    match cmd {
        DipCommand::Group(a) => group(a),
        DipCommand::Build(a) => build_cmd(*a),
        DipCommand::Scores(a) => super::calibrate::scores_cmd(a),
        DipCommand::Compile { catalog, output } => {
            let started = Instant::now();
            let c = load_catalog(&catalog)?;
            c.save(&output)
                .with_context(|| format!("writing {}", output.display()))?;
            let size = std::fs::metadata(&output).map(|m| m.len()).unwrap_or(0);
            eprintln!(
                "compiled {} into {} ({size} bytes) in {:.2} s",
                c.info().label(),
                output.display(),
                started.elapsed().as_secs_f64()
            );
            Ok(Outcome::Clean)
        }
        DipCommand::Info { catalog } => {
            let c = load_catalog(&catalog)?;
            print!("{}", info_text(&c));
            Ok(Outcome::Clean)
        }
    }
}

/// The text of `drgdip dip info`.
pub fn info_text(c: &Catalog) -> String {
    let i = c.info();
    let o = c.options();
    let mut s = String::new();
    let _ = writeln!(s, "catalog      {}", i.label());
    let _ = writeln!(s, "name         {}", i.name);
    let _ = writeln!(s, "version      {}", i.version);
    let _ = writeln!(s, "region       {}", i.region);
    let _ = writeln!(s, "score scale  {}", i.score_scale);
    let _ = writeln!(s, "content hash {}", i.content_hash);
    let _ = writeln!(
        s,
        "options      rules={} tie_rule={} attribute_source={} unknown_procedure_attribute={}",
        if c.is_national() {
            "national"
        } else {
            "drgdip"
        },
        o.tie_rule.as_str(),
        o.attribute_source.as_str(),
        o.unknown_procedure_attribute.as_str()
    );
    let mut counts: std::collections::BTreeMap<Layer, usize> = Default::default();
    let mut primary = 0;
    for t in c.types() {
        *counts.entry(t.layer).or_default() += 1;
        primary += usize::from(t.primary_care);
    }
    let layers: Vec<String> = counts
        .iter()
        .map(|(l, n)| format!("{} {n}", l.as_str()))
        .collect();
    let _ = writeln!(
        s,
        "types        {} ({}); primary-care types {}",
        c.types().len(),
        layers.join(", "),
        primary
    );
    if c.is_national() {
        let _ = writeln!(
            s,
            "national     primary-care rows {} (decided per case); scores: {}",
            c.primary_care_rows(),
            if c.types().iter().all(|t| t.score_text.is_empty()) {
                "none (national catalogue, not calibrated)"
            } else {
                "calibrated"
            }
        );
    }
    let (classes, px) = c.dictionary_sizes();
    let _ = writeln!(
        s,
        "aux types    {}; diagnosis classes {classes}; procedure codes {px}",
        c.aux_types().len()
    );
    for w in c.warnings() {
        let _ = writeln!(s, "warning      {w}");
    }
    s
}

fn group(args: GroupArgs) -> Result<Outcome> {
    let started = Instant::now();
    let catalog = load_catalog(&args.catalog)?;
    let job = DipGroupJob::new(&catalog);
    super::run_job("dip group", &job, &args.files, started)
}

fn build_cmd(a: BuildArgs) -> Result<Outcome> {
    if a.national.is_some() {
        return super::calibrate::calibrate_cmd(a);
    }
    let started = Instant::now();
    let tables = match &a.tables {
        Some(dir) => Some(
            CatalogSource::from_dir(dir)
                .with_context(|| format!("reading the tables of {}", dir.display()))?,
        ),
        None => None,
    };
    let mut config = BuildConfig {
        threshold: match a.coverage {
            Some(c) => Threshold::Coverage(c),
            None => Threshold::Cases(a.threshold.unwrap_or(15)),
        },
        year_weights: parse_year_weights(&a.year_weights)?,
        trim: parse_trim(a.trim_low, a.trim_high)?,
        related_gain_percent: a.related_gain,
        primary_cv_max: a.primary_cv,
        primary_share_min: a.primary_share,
        score_decimals: a.decimals,
        ..BuildConfig::default()
    };
    config.manifest.name = a.name.clone();
    config.manifest.version = a.version.clone();
    config.manifest.region = a.region.clone();
    config.manifest.score_scale = a.scale;
    if let Some(t) = &tables {
        config.manifest.options = t.manifest.options.clone();
        let ignored = t
            .types
            .iter()
            .filter(|r| {
                Layer::parse(&r.layer).is_ok_and(|l| l != Layer::Core && l != Layer::Composite)
            })
            .count();
        if ignored > 0 {
            eprintln!(
                "note: the {ignored} pre/merge/refine type(s) of --tables are not carried into the built catalogue"
            );
        }
    }
    let (history, read, pool) = read_history(&a)?;
    let read_secs = started.elapsed().as_secs_f64();
    let built = pool
        .install(|| build::build(&history, tables.as_ref(), &config))
        .context("building the catalogue")?;
    let written = Written {
        command: "dip build",
        source: &built.source,
        report_json: serde_json::to_string_pretty(&report_json(&built.report))?,
        report_text: &report_text(&built.report),
    };
    written.finish(&a, &read, read_secs, started)
}

/// What [`open_history`] opens: the input, the rejects writer, the pool, the options.
pub type HistoryFiles = (
    Box<dyn std::io::Read + Send>,
    Box<dyn std::io::Write + Send>,
    rayon::ThreadPool,
    Options,
);

/// Opens a history file for reading in parallel: the input, where each row's acceptance
/// goes (`--rejects`, else nowhere), the thread pool and the pipeline options. Shared by
/// `dip build` (also `--national`) and `drg weights`.
pub fn open_history(
    history: &str,
    rejects: Option<&str>,
    threads: usize,
    format: Option<&str>,
) -> Result<HistoryFiles> {
    let (input, _) = open_input(history)?;
    let rejects: Box<dyn std::io::Write + Send> = match rejects {
        Some(p) => open_output(p)?,
        None => Box::new(std::io::sink()),
    };
    let pool = pool(threads)?;
    let options = Options {
        format: format_of(format, history),
        batch_blocks: 4 * pool.current_num_threads().max(2),
        ..Options::default()
    };
    Ok((input, rejects, pool, options))
}

/// Reads the history of `dip build` (and `--national`) in parallel.
pub fn read_history(a: &BuildArgs) -> Result<(History, Summary, rayon::ThreadPool)> {
    let (input, rejects, pool, options) = open_history(
        &a.history,
        a.rejects.as_deref(),
        a.threads,
        a.format.as_deref(),
    )?;
    let (history, read) = pool
        .install(|| read_dip_history(input, rejects, &options))
        .with_context(|| format!("reading the history {}", a.history))?;
    Ok((history, read, pool))
}

/// A catalogue made from history (`dip build`, also `--national`), ready to write.
pub struct Written<'a> {
    /// The command, for the closing line.
    pub command: &'a str,
    /// The catalogue.
    pub source: &'a CatalogSource,
    /// The text of `report.json`.
    pub report_json: String,
    /// The readable report (stdout).
    pub report_text: &'a str,
}

impl Written<'_> {
    /// Writes the catalogue folder and `report.json`, prints the report and a closing
    /// line; exit 1 when history rows were rejected.
    pub fn finish(
        &self,
        a: &BuildArgs,
        read: &Summary,
        read_secs: f64,
        started: Instant,
    ) -> Result<Outcome> {
        self.source
            .write_dir(&a.output)
            .with_context(|| format!("writing the catalogue to {}", a.output.display()))?;
        let report_path = a.output.join("report.json");
        std::fs::write(&report_path, format!("{}\n", self.report_json))
            .with_context(|| format!("writing {}", report_path.display()))?;
        print!("{}", self.report_text);
        eprintln!(
            "{}: {} rows ({} rejected) → {} types in {}; read {read_secs:.2} s, total {:.2} s",
            self.command,
            read.rows,
            read.counts[1],
            self.source.types.len(),
            a.output.display(),
            started.elapsed().as_secs_f64()
        );
        Ok(if read.counts[1] > 0 {
            Outcome::RowsRejected
        } else {
            Outcome::Clean
        })
    }
}

fn report_json(r: &BuildReport) -> serde_json::Value {
    serde_json::json!({
        "cases": r.cases,
        "excluded": r.excluded,
        "malformed": r.malformed,
        "ungrouped": r.ungrouped,
        "years": r.years.iter().map(|(y, w)| serde_json::json!({"year": y, "weight": w})).collect::<Vec<_>>(),
        "threshold": r.threshold,
        "core_types": r.core_types,
        "related_types": r.related_types,
        "composite_types": r.composite_types,
        "core_cases": r.core_cases,
        "coverage": r.coverage,
        "overall_mean_cost": r.overall_mean_cost,
        "cv_bands": r.cv_bands.iter().map(|(b, n)| serde_json::json!({"band": b, "types": n})).collect::<Vec<_>>(),
        "primary_care_types": r.primary_care_types,
        "largest": r.largest,
    })
}

/// The readable build report.
pub fn report_text(r: &BuildReport) -> String {
    let mut s = String::new();
    let years: Vec<String> = r.years.iter().map(|(y, w)| format!("{y}×{w}")).collect();
    let _ = writeln!(
        s,
        "history    {} cases ({} excluded principal, {} malformed, {} ungrouped); years {}",
        r.cases,
        r.excluded,
        r.malformed,
        r.ungrouped,
        years.join(" ")
    );
    let _ = writeln!(s, "threshold  {} cases", r.threshold);
    let _ = writeln!(
        s,
        "types      {} core (of which {} with related procedures), {} composite; {} primary-care candidates",
        r.core_types, r.related_types, r.composite_types, r.primary_care_types
    );
    let _ = writeln!(
        s,
        "coverage   {:.2}% of grouped cases in core types ({} cases)",
        r.coverage * 100.0,
        r.core_cases
    );
    report_tail(&mut s, &r.overall_mean_cost, &r.cv_bands, &r.largest);
    s
}

/// The end of the build and calibration reports: overall mean cost, CV bands and the
/// largest types (the code column as wide as the longest code, at least 12).
pub fn report_tail(
    s: &mut String,
    overall_mean_cost: &str,
    cv_bands: &[(String, usize)],
    largest: &[ReportType],
) {
    let _ = writeln!(
        s,
        "mean cost  {overall_mean_cost} yuan (trimmed, year-weighted)"
    );
    let bands: Vec<String> = cv_bands.iter().map(|(b, n)| format!("{b}: {n}")).collect();
    let _ = writeln!(s, "CV         {}", bands.join(", "));
    let _ = writeln!(s, "largest types");
    let w = largest
        .iter()
        .map(|t| t.code.chars().count())
        .max()
        .unwrap_or(0)
        .max(12);
    let _ = writeln!(
        s,
        "  {:<w$} {:<9} {:>9} {:>10} {:>12} {:>7}",
        "code", "layer", "cases", "score", "mean cost", "CV"
    );
    for t in largest {
        let _ = writeln!(
            s,
            "  {:<w$} {:<9} {:>9} {:>10} {:>12} {:>7}",
            t.code, t.layer, t.cases, t.score, t.mean_cost, t.cv
        );
    }
}

/// Explains the DIP grouping of one case given as the values of [`DIP_COLUMNS`].
pub fn explain(
    catalog: &Catalog,
    line: u64,
    values: &[Vec<u8>],
) -> Result<(DipExplanation, String)> {
    let mut fields: [Option<&[u8]>; MAX_COLUMNS] = [None; MAX_COLUMNS];
    for (f, v) in fields.iter_mut().zip(values) {
        *f = Some(v.as_slice());
    }
    let row = Row {
        line,
        fields: &fields[..DIP_COLUMNS.len()],
        problem: None,
    };
    let mut case = DipCase::default();
    let mut warnings = String::new();
    if let Err(FieldError(msg)) = parse_dip_case(catalog, &row, &mut case, &mut warnings) {
        bail!("the case is not valid input: {msg}");
    }
    Ok((catalog.explain(&case), warnings))
}

/// The DIP explanation as readable text.
pub fn render(e: &DipExplanation, warnings: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "catalog  {}", e.catalog);
    let _ = writeln!(
        s,
        "result   {} {} {} score {} aux {} ×{}{}",
        e.status.as_str(),
        if e.dip_code.is_empty() {
            "-"
        } else {
            &e.dip_code
        },
        e.layer,
        if e.score.is_empty() { "-" } else { &e.score },
        if e.aux_type.is_empty() {
            "-"
        } else {
            &e.aux_type
        },
        e.aux_coef,
        if e.primary_care {
            " (primary care)"
        } else {
            ""
        }
    );
    if !e.name.is_empty() {
        let _ = writeln!(s, "name     {}", e.name);
    }
    if !warnings.is_empty() {
        let _ = writeln!(s, "warnings {warnings}");
    }
    let _ = writeln!(
        s,
        "principal diagnosis class {}; grouping procedures [{}]",
        e.principal_class,
        e.grouping_procedures.join(", ")
    );
    let _ = writeln!(s, "steps");
    for step in &e.steps {
        let _ = match step {
            DipStep::Invalid { message } => writeln!(s, "  invalid: {message}"),
            DipStep::ExcludedPrincipal { code } => writeln!(
                s,
                "  exclusions: principal diagnosis {code} is excluded from grouping"
            ),
            DipStep::ProcedureDropped { code, list } => writeln!(
                s,
                "  exclusions: procedure {code} does not count for grouping ({list} list)"
            ),
            DipStep::ConservativePrincipal { code } => writeln!(
                s,
                "  exclusions: principal procedure {code} is on the conservative list: grouped as conservative"
            ),
            DipStep::Attribute { attribute, source } => writeln!(
                s,
                "  procedure attribute {} (from the {source} procedure)",
                attribute.as_str()
            ),
            DipStep::LayerEmpty { layer } => writeln!(
                s,
                "  {}: no type of this layer covers the principal diagnosis",
                layer.as_str()
            ),
            DipStep::Type {
                layer,
                code,
                principal_dx,
                procedures,
                matched,
                detail,
            } => writeln!(
                s,
                "  {} {code} [{principal_dx} / {procedures}]: {}\n      {detail}",
                layer.as_str(),
                if *matched { "matches" } else { "no" }
            ),
            DipStep::Preferred {
                winner,
                loser,
                rule,
            } => writeln!(s, "    {winner} preferred over {loser}: {rule}"),
            DipStep::Chosen { layer, code } => {
                writeln!(s, "  => {} type {code}", layer.as_str())
            }
            DipStep::Ungrouped { message } => writeln!(s, "  => ungrouped: {message}"),
            DipStep::PrincipalProcedure { code, kept, note } => writeln!(
                s,
                "  exclusions: principal procedure {code} is listed in 不纳入分组的主要手术操作: {}",
                if *kept {
                    note.clone()
                } else {
                    format!("dropped; {note}")
                }
            ),
            DipStep::PrimaryCare {
                primary_care,
                detail,
            } => writeln!(
                s,
                "  primary care: {}: {detail}",
                if *primary_care { "yes" } else { "no" }
            ),
            DipStep::Aux {
                code,
                coefficient,
                matched,
                detail,
            } => writeln!(
                s,
                "  aux {code} ×{coefficient}: {}\n      {detail}",
                if *matched {
                    "applies (highest matching)"
                } else {
                    "no"
                }
            ),
        };
    }
    s
}
