//! The one way every CSV report of the tool (`billing-audit.csv`, `quarantine.csv`, a plugin
//! diff's records) writes a row: safe to open in a spreadsheet.

use std::borrow::Cow;

/// Writes one row of a CSV report (`billing-audit.csv`, `quarantine.csv`...), every cell through
/// [`spreadsheet_safe`]: reports carry text from the export and from plugins, and people open
/// them in Excel or LibreOffice.
pub fn write_report_row<W: std::io::Write, const N: usize>(
    writer: &mut csv::Writer<W>,
    cells: [&str; N],
) -> csv::Result<()> {
    writer.write_record(cells.map(spreadsheet_safe).iter().map(|cell| cell.as_bytes()))
}

/// A cell a spreadsheet shows as text instead of running it (OWASP, "CSV Injection"): a cell
/// starting with `=`, `+`, `-`, `@`, tab or carriage return gets a leading `'`. A plain number
/// (`-12.5`, `+48500000002`: a sign, digits, at most one `.`) is left as it is: it cannot be a
/// formula, and phone numbers and amounts stay readable.
pub fn spreadsheet_safe(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) && !is_plain_number(cell) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

fn is_plain_number(cell: &str) -> bool {
    let unsigned = cell.strip_prefix(['+', '-']).unwrap_or(cell);
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    !whole.is_empty() && whole.bytes().all(|b| b.is_ascii_digit()) && fraction.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralized_and_plain_numbers_kept() {
        for formula in [
            "=HYPERLINK(\"http://evil\",\"x\")",
            "+1+1",
            "-2+3",
            "@SUM(A1)",
            "\tcmd",
            "\r=1",
            "-",
            "+",
            "-1.2.3",
            "--1",
        ] {
            assert_eq!(spreadsheet_safe(formula), format!("'{formula}"), "{formula:?}");
        }
        for plain in ["-12.5", "+48500000002", "-7", "12", "", "Ada", "'quoted", " =1"] {
            assert_eq!(spreadsheet_safe(plain), plain, "{plain:?}");
        }
    }
}
