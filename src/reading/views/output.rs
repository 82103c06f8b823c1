//! Rows written out as an aligned table, CSV (RFC 4180, a header row first) or JSON (an
//! array of objects, one a line), from the column lists in [`super::columns`].
//!
//! Numbers are written with Rust's shortest round-trip formatting, never an exponent:
//! `0.123456789`, `128458752`, so every digit the value has is printed and no more. An
//! absent value is an empty CSV field, a JSON `null` and `<none>` in the table.

use std::fmt::Write as _;

pub use crate::config::OutputFormat;

use super::columns::{Cell, Column};

impl OutputFormat {
    /// The file name extension of files in this format.
    pub fn extension(self) -> &'static str {
        match self {
            OutputFormat::Table => "txt",
            OutputFormat::Csv => "csv",
            OutputFormat::Json => "json",
        }
    }
}

/// `rows` in `format`, under `columns`.
pub fn render<R>(format: OutputFormat, columns: &[&Column<R>], rows: &[R]) -> String {
    match format {
        OutputFormat::Table => table(columns, rows),
        OutputFormat::Csv => csv(columns, rows),
        OutputFormat::Json => json(columns, rows),
    }
}

/// The text of a number or count; `None` for an absent (or non-finite) value.
fn number(cell: Cell<'_>) -> Option<String> {
    match cell {
        Cell::Text(_) => None,
        Cell::Number(value) => value.filter(|v| v.is_finite()).map(|v| format!("{v}")),
        Cell::Count(count) => Some(count.to_string()),
        Cell::Sum(sum) => sum.map(|sum| sum.to_string()),
    }
}

fn csv<R>(columns: &[&Column<R>], rows: &[R]) -> String {
    let mut out = String::new();
    let header: Vec<String> = columns.iter().map(|c| csv_field(c.name)).collect();
    out.push_str(&header.join(","));
    out.push('\n');
    for row in rows {
        for (at, column) in columns.iter().enumerate() {
            if at > 0 {
                out.push(',');
            }
            match (column.value)(row) {
                Cell::Text(text) => out.push_str(&csv_field(text)),
                cell => out.push_str(&number(cell).unwrap_or_default()),
            }
        }
        out.push('\n');
    }
    out
}

/// A field quoted when it holds a comma, quote or line break, quotes doubled.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

fn json<R>(columns: &[&Column<R>], rows: &[R]) -> String {
    if rows.is_empty() {
        return "[]\n".to_owned();
    }
    let keys: Vec<String> = columns.iter().map(|c| json_string(c.name)).collect();
    let mut out = String::from("[\n");
    for (index, row) in rows.iter().enumerate() {
        out.push('{');
        for (at, column) in columns.iter().enumerate() {
            if at > 0 {
                out.push(',');
            }
            out.push_str(&keys[at]);
            out.push(':');
            match (column.value)(row) {
                Cell::Text(text) => out.push_str(&json_string(text)),
                cell => out.push_str(number(cell).as_deref().unwrap_or("null")),
            }
        }
        out.push('}');
        if index + 1 < rows.len() {
            out.push(',');
        }
        out.push('\n');
    }
    out.push_str("]\n");
    out
}

fn json_string(text: &str) -> String {
    serde_json::to_string(text).expect("a string always serializes")
}

/// Left-aligned columns three spaces apart, as `kubectl` prints them.
fn table<R>(columns: &[&Column<R>], rows: &[R]) -> String {
    let shown: Vec<&&Column<R>> = columns.iter().filter(|c| c.in_table).collect();
    let mut lines: Vec<Vec<String>> = Vec::with_capacity(rows.len() + 1);
    lines.push(shown.iter().map(|c| c.header.to_owned()).collect());
    for row in rows {
        lines.push(
            shown
                .iter()
                .map(|column| match (column.value)(row) {
                    Cell::Text("") => "<none>".to_owned(),
                    Cell::Text(text) => text.to_owned(),
                    cell => number(cell).unwrap_or_else(|| "<none>".to_owned()),
                })
                .collect(),
        );
    }
    let mut widths = vec![0; shown.len()];
    for line in &lines {
        for (width, cell) in widths.iter_mut().zip(line) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for line in &lines {
        let mut text = String::new();
        for (at, cell) in line.iter().enumerate() {
            let _ = write!(text, "{cell:<width$}", width = widths[at]);
            text.push_str("   ");
        }
        out.push_str(text.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Row {
        name: &'static str,
        value: Option<f64>,
    }

    const COLUMNS: [Column<Row>; 2] = [
        Column {
            name: "name",
            header: "NAME",
            in_table: true,
            value: |r| Cell::Text(r.name),
        },
        Column {
            name: "value_cores",
            header: "VALUE(cores)",
            in_table: true,
            value: |r| Cell::Number(r.value),
        },
    ];

    fn rows() -> Vec<Row> {
        vec![
            Row {
                name: "plain",
                value: Some(0.123456789),
            },
            Row {
                name: "with \"quotes\", comma",
                value: None,
            },
            Row {
                name: "",
                value: Some(128458752.0),
            },
        ]
    }

    fn columns() -> Vec<&'static Column<Row>> {
        COLUMNS.iter().collect()
    }

    #[test]
    fn csv_quotes_and_keeps_every_digit() {
        assert_eq!(
            render(OutputFormat::Csv, &columns(), &rows()),
            "name,value_cores\nplain,0.123456789\n\"with \"\"quotes\"\", comma\",\n,128458752\n"
        );
    }

    #[test]
    fn json_has_numbers_as_numbers_and_null_for_absent() {
        let text = render(OutputFormat::Json, &columns(), &rows());
        assert_eq!(
            text,
            "[\n{\"name\":\"plain\",\"value_cores\":0.123456789},\n\
             {\"name\":\"with \\\"quotes\\\", comma\",\"value_cores\":null},\n\
             {\"name\":\"\",\"value_cores\":128458752}\n]\n"
        );
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed[0]["value_cores"].as_f64(), Some(0.123456789));
        assert_eq!(render(OutputFormat::Json, &columns(), &[]), "[]\n");
    }

    #[test]
    fn table_aligns_and_marks_absent_values() {
        assert_eq!(
            render(OutputFormat::Table, &columns(), &rows()),
            "NAME                   VALUE(cores)\n\
             plain                  0.123456789\n\
             with \"quotes\", comma   <none>\n\
             <none>                 128458752\n"
        );
    }

    #[test]
    fn numbers_never_use_an_exponent() {
        assert_eq!(number(Cell::Number(Some(1e-10))).unwrap(), "0.0000000001");
        assert_eq!(
            number(Cell::Number(Some(1e21))).unwrap(),
            "1000000000000000000000"
        );
        assert_eq!(number(Cell::Number(Some(f64::INFINITY))), None);
    }
}
