//! Plain-text tables for people (scripts take `--json`): left-aligned columns, cells cut to a
//! width and kept on one line.

use serde_json::Value;

/// Widest a cell is shown.
const MAX_CELL: usize = 48;

pub struct Table {
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&'static str]) -> Table {
        Table {
            header: header.to_vec(),
            rows: Vec::new(),
        }
    }

    /// One row per item of a JSON array, one column per field.
    pub fn of(header: &[&'static str], fields: &[&str], items: &Value) -> Table {
        let mut t = Table::new(header);
        for item in items.as_array().map_or(&[][..], Vec::as_slice) {
            t.row(fields.iter().map(|f| text(&item[*f])).collect());
        }
        t
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows
            .push(cells.into_iter().map(|c| cell(&c)).collect());
    }

    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, c) in row.iter().enumerate() {
                if let Some(w) = widths.get_mut(i) {
                    *w = (*w).max(c.chars().count());
                }
            }
        }
        let line = |cells: &mut dyn Iterator<Item = &str>| {
            let mut out = String::new();
            for (i, c) in cells.enumerate() {
                let width = widths.get(i).copied().unwrap_or(0);
                if i > 0 {
                    out.push_str("  ");
                }
                out.push_str(c);
                out.push_str(&" ".repeat(width.saturating_sub(c.chars().count())));
            }
            out.trim_end().to_owned()
        };
        let mut out = line(&mut self.header.iter().copied());
        out.push('\n');
        for row in &self.rows {
            out.push_str(&line(&mut row.iter().map(String::as_str)));
            out.push('\n');
        }
        out
    }
}

/// One line, at most [`MAX_CELL`] characters.
fn cell(text: &str) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if one_line.chars().count() <= MAX_CELL {
        one_line
    } else {
        let mut cut: String = one_line.chars().take(MAX_CELL - 1).collect();
        cut.push('…');
        cut
    }
}

/// A JSON value as a cell: strings bare, null as "-", lists joined by commas.
pub fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(text).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_and_cells_stay_short() {
        let mut t = Table::new(&["ID", "NAME"]);
        t.row(vec!["1".into(), "a\nb".into()]);
        t.row(vec!["22".into(), "x".repeat(100)]);
        let out = t.render();
        let lines: Vec<_> = out.lines().collect();
        assert_eq!(lines[0], "ID  NAME");
        assert_eq!(lines[1], "1   a b");
        assert_eq!(lines[2].chars().count(), 4 + MAX_CELL);
        assert_eq!(text(&serde_json::json!(["a", "b"])), "a,b");
        assert_eq!(text(&Value::Null), "-");
    }
}
