//! `drgdip._drgdip`: the native half of the `drgdip` Python package (PyO3).
//!
//! Tables cross the boundary through the Arrow C stream interface
//! (`__arrow_c_stream__`), without copying; the grouping is `drgdip_arrow::run_batch`,
//! run with the GIL released. The Python half (`pysrc/drgdip/__init__.py`) takes and
//! gives back pandas data frames.

use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use arrow_pyarrow::{PyArrowType, Table};
use arrow_schema::SchemaRef;
use drgdip_arrow::{BatchOptions, output_schema, run_batch};
use drgdip_grouper::dip::{Catalog, CatalogSource, DipCase, NationalWorkbook};
use drgdip_grouper::{Case, Grouper, Scheme};
use drgdip_io::dip::DIP_COLUMNS;
use drgdip_io::fields::FieldError;
use drgdip_io::stream::MAX_COLUMNS;
use drgdip_io::{DipGroupJob, GroupJob, Job, Row, parse_case, parse_dip_case};
use drgdip_payment::Policy;
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

create_exception!(
    _drgdip,
    DrgdipError,
    PyException,
    "A scheme, catalogue, policy or table drgdip could not use; the message is drgdip's."
);

/// An error and its causes, `: `-joined, as a Python exception.
fn err(context: &str, e: &(dyn std::error::Error + 'static)) -> PyErr {
    let mut msg = format!("{context}: {e}");
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        source = s.source();
    }
    DrgdipError::new_err(msg)
}

fn is_xlsx(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("xlsx"))
}

/// A rayon pool of `threads` threads, or the global pool.
fn in_pool<T: Send>(threads: Option<usize>, f: impl FnOnce() -> T + Send) -> PyResult<T> {
    match threads {
        None => Ok(f()),
        Some(n) => {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .map_err(|e| err("starting the thread pool", &e))?;
            Ok(pool.install(f))
        }
    }
}

/// Runs a grouping job over every batch of a table, the GIL released.
fn run_table<J: Job>(
    py: Python<'_>,
    job: &J,
    table: Table,
    carry: bool,
    first_line: u64,
    threads: Option<usize>,
) -> PyResult<(Table, Vec<u64>)> {
    let (batches, schema) = table.into_inner();
    let out_schema = output_schema(job, &schema, carry);
    let result = py.detach(|| {
        in_pool(
            threads,
            || -> Result<(Vec<RecordBatch>, Vec<u64>), drgdip_arrow::Error> {
                let mut counts = vec![0u64; job.categories().len()];
                let mut out = Vec::with_capacity(batches.len());
                let mut line = first_line;
                for b in &batches {
                    let options = BatchOptions {
                        first_line: line,
                        carry,
                    };
                    let (o, c) = run_batch(job, b, &options)?;
                    line += b.num_rows() as u64;
                    for (t, n) in counts.iter_mut().zip(c) {
                        *t += n;
                    }
                    out.push(o);
                }
                Ok((out, counts))
            },
        )
    })?;
    let (out, counts) = result.map_err(|e| err("grouping the table", &e))?;
    let table = Table::try_new(out, out_schema).map_err(|e| err("building the output", &e))?;
    Ok((table, counts))
}

/// Row values in the order of `DIP_COLUMNS` (a superset of the DRG columns, in the
/// same order), as a `Row` of the line `line`.
fn with_row<T>(values: &[Option<String>], line: u64, f: impl FnOnce(&Row<'_>) -> T) -> T {
    let mut fields: [Option<&[u8]>; MAX_COLUMNS] = [None; MAX_COLUMNS];
    for (slot, v) in fields.iter_mut().zip(values) {
        *slot = v.as_deref().map(str::as_bytes);
    }
    let n = values.len().min(DIP_COLUMNS.len());
    f(&Row {
        line,
        fields: &fields[..n],
        problem: None,
    })
}

/// A grouped table and the count of rows per outcome.
type Grouped = (PyArrowType<Table>, Vec<(String, u64)>);

/// A compiled CHS-DRG scheme.
#[pyclass(frozen, name = "Scheme", module = "drgdip._drgdip")]
struct PyScheme {
    grouper: Grouper,
}

#[pymethods]
impl PyScheme {
    /// Loads a scheme folder, an official workbook (`.xlsx`, with optional errata) or a
    /// compiled scheme file.
    #[staticmethod]
    #[pyo3(signature = (path, errata=None))]
    fn load(py: Python<'_>, path: PathBuf, errata: Option<PathBuf>) -> PyResult<Self> {
        let grouper = py.detach(|| -> PyResult<Grouper> {
            if !path.exists() {
                return Err(DrgdipError::new_err(format!(
                    "{}: no such scheme folder, workbook or compiled scheme file",
                    path.display()
                )));
            }
            if path.is_dir() || is_xlsx(&path) || errata.is_some() {
                let what = if path.is_dir() { "folder" } else { "workbook" };
                let scheme = Scheme::read(&path, errata.as_deref()).map_err(|e| {
                    err(&format!("reading the scheme {what} {}", path.display()), &e)
                })?;
                Grouper::compile(&scheme)
                    .map_err(|e| err(&format!("compiling the scheme {}", path.display()), &e))
            } else {
                Grouper::load(&path).map_err(|e| {
                    err(
                        &format!("loading the compiled scheme {}", path.display()),
                        &e,
                    )
                })
            }
        })?;
        Ok(PyScheme { grouper })
    }

    /// The scheme's label (name, version, content hash).
    #[getter]
    fn label(&self) -> String {
        self.grouper.info().label()
    }

    /// Writes the compiled scheme to `path` (load it back with `load`).
    fn save(&self, path: PathBuf) -> PyResult<()> {
        self.grouper
            .save(&path)
            .map_err(|e| err(&format!("writing {}", path.display()), &e))
    }

    /// Groups a table; returns the output table and the count per outcome.
    #[pyo3(signature = (table, map_codes=false, carry=false, first_line=2, threads=None))]
    fn group(
        &self,
        py: Python<'_>,
        table: PyArrowType<Table>,
        map_codes: bool,
        carry: bool,
        first_line: u64,
        threads: Option<usize>,
    ) -> PyResult<Grouped> {
        let job = GroupJob::new(&self.grouper, map_codes);
        let (t, counts) = run_table(py, &job, table.0, carry, first_line, threads)?;
        Ok((PyArrowType(t), named(&job, counts)))
    }

    /// Explains how one case (values in the order of the DIP columns) is grouped, as JSON.
    #[pyo3(signature = (values, map_codes=false))]
    fn explain(&self, values: Vec<Option<String>>, map_codes: bool) -> PyResult<String> {
        let mut case = Case::default();
        let mut warnings = String::new();
        with_row(&values, 0, |row| {
            parse_case(&self.grouper, map_codes, row, &mut case, &mut warnings)
        })
        .map_err(|FieldError(m)| {
            DrgdipError::new_err(format!("the case is not valid input: {m}"))
        })?;
        let e = self.grouper.explain(&case);
        let mut v = serde_json::to_value(&e).map_err(|e| err("explaining", &e))?;
        if let Some(o) = v.as_object_mut() {
            o.insert("warnings".into(), warnings.into());
        }
        Ok(v.to_string())
    }
}

/// A compiled DIP catalogue.
#[pyclass(frozen, name = "Catalog", module = "drgdip._drgdip")]
struct PyCatalog {
    catalog: Catalog,
}

#[pymethods]
impl PyCatalog {
    /// Loads a catalogue folder, NHSA's national DIP workbook (`.xlsx`) or a compiled
    /// catalogue file.
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let catalog = py.detach(|| -> PyResult<Catalog> {
            if !path.exists() {
                return Err(DrgdipError::new_err(format!(
                    "{}: no such catalogue folder, workbook or compiled catalogue file",
                    path.display()
                )));
            }
            if is_xlsx(&path) && path.is_file() {
                let wb = NationalWorkbook::read(&path).map_err(|e| {
                    err(
                        &format!("reading the national DIP workbook {}", path.display()),
                        &e,
                    )
                })?;
                Catalog::compile(&wb.to_source()).map_err(|e| {
                    err(
                        &format!("compiling the national DIP workbook {}", path.display()),
                        &e,
                    )
                })
            } else if path.is_dir() {
                let source = CatalogSource::from_dir(&path).map_err(|e| {
                    err(
                        &format!("reading the catalogue folder {}", path.display()),
                        &e,
                    )
                })?;
                Catalog::compile(&source)
                    .map_err(|e| err(&format!("compiling the catalogue {}", path.display()), &e))
            } else {
                Catalog::load(&path).map_err(|e| {
                    err(
                        &format!("loading the compiled catalogue {}", path.display()),
                        &e,
                    )
                })
            }
        })?;
        Ok(PyCatalog { catalog })
    }

    /// The catalogue's label.
    #[getter]
    fn label(&self) -> String {
        self.catalog.info().label()
    }

    /// Writes the compiled catalogue to `path`.
    fn save(&self, path: PathBuf) -> PyResult<()> {
        self.catalog
            .save(&path)
            .map_err(|e| err(&format!("writing {}", path.display()), &e))
    }

    /// DIP-groups a table; returns the output table and the count per outcome.
    #[pyo3(signature = (table, carry=false, first_line=2, threads=None))]
    fn dip_group(
        &self,
        py: Python<'_>,
        table: PyArrowType<Table>,
        carry: bool,
        first_line: u64,
        threads: Option<usize>,
    ) -> PyResult<Grouped> {
        let job = DipGroupJob::new(&self.catalog);
        let (t, counts) = run_table(py, &job, table.0, carry, first_line, threads)?;
        Ok((PyArrowType(t), named(&job, counts)))
    }

    /// Explains how one case (values in the order of the DIP columns) is grouped, as JSON.
    fn explain(&self, values: Vec<Option<String>>) -> PyResult<String> {
        let mut case = DipCase::default();
        let mut warnings = String::new();
        with_row(&values, 0, |row| {
            parse_dip_case(&self.catalog, row, &mut case, &mut warnings)
        })
        .map_err(|FieldError(m)| {
            DrgdipError::new_err(format!("the case is not valid input: {m}"))
        })?;
        let e = self.catalog.explain(&case);
        let mut v = serde_json::to_value(&e).map_err(|e| err("explaining", &e))?;
        if let Some(o) = v.as_object_mut() {
            o.insert("warnings".into(), warnings.into());
        }
        Ok(v.to_string())
    }
}

/// A regional policy (pricing and benefits).
#[pyclass(frozen, name = "Policy", module = "drgdip._drgdip")]
struct PyPolicy {
    policy: Policy,
}

#[pymethods]
impl PyPolicy {
    /// Loads a policy file (TOML).
    #[staticmethod]
    fn load(path: PathBuf) -> PyResult<Self> {
        let policy = Policy::load(&path)
            .map_err(|e| err(&format!("loading the policy {}", path.display()), &e))?;
        Ok(PyPolicy { policy })
    }

    /// Prices grouped rows; returns the priced table and (rows, rejected, not grouped).
    #[pyo3(signature = (table, threads=None))]
    fn price(
        &self,
        py: Python<'_>,
        table: PyArrowType<Table>,
        threads: Option<usize>,
    ) -> PyResult<(PyArrowType<Table>, (u64, u64, u64))> {
        let (batches, schema) = table.0.into_inner();
        let policy = &self.policy;
        let result =
            py.detach(|| drgdip_arrow::price_batches(policy, schema, batches.into_iter(), threads));
        let (schema, out, s): (SchemaRef, _, _) =
            result.map_err(|e| err("pricing the table", &e))?;
        let table = Table::try_new(out, schema).map_err(|e| err("building the output", &e))?;
        Ok((PyArrowType(table), (s.rows, s.rejected, s.not_grouped)))
    }
}

/// The counts of a run named by the job's categories.
fn named<J: Job>(job: &J, counts: Vec<u64>) -> Vec<(String, u64)> {
    job.categories()
        .iter()
        .map(|c| c.to_string())
        .zip(counts)
        .collect()
}

/// The input columns, in the order `explain` takes values.
#[pyfunction]
fn case_columns() -> Vec<&'static str> {
    DIP_COLUMNS.iter().map(|c| c.name).collect()
}

/// The output columns of DRG grouping (`drgdip group`).
#[pyfunction]
fn group_header() -> Vec<&'static str> {
    drgdip_io::drg::GROUP_HEADER.to_vec()
}

/// The output columns of DIP grouping (`drgdip dip group`).
#[pyfunction]
fn dip_header() -> Vec<&'static str> {
    drgdip_io::dip::DIP_HEADER.to_vec()
}

/// The native module.
#[pymodule]
fn _drgdip(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyScheme>()?;
    m.add_class::<PyCatalog>()?;
    m.add_class::<PyPolicy>()?;
    m.add_function(wrap_pyfunction!(case_columns, m)?)?;
    m.add_function(wrap_pyfunction!(group_header, m)?)?;
    m.add_function(wrap_pyfunction!(dip_header, m)?)?;
    m.add("DrgdipError", m.py().get_type::<DrgdipError>())?;
    Ok(())
}
