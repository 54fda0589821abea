//! A small RFC 4180 reader for bank statements: records of fields split by a one-character
//! separator (`,` by default), fields optionally in double quotes (a quoted field may hold the
//! separator, line breaks and doubled quotes `""`), records ended by LF or CRLF. Pure: text in,
//! records with the 1-based line each starts on out, or the first problem with its line.
//!
//! Not done: other quote characters, escapes with a backslash, a byte-order mark other than
//! UTF-8's (which is skipped), encodings other than UTF-8 (the caller refuses those). Blank
//! lines are skipped (RFC 4180 has none; banks add them). Bounded: at most
//! `CSV_FIELDS_PER_RECORD_MAX` fields a record. Tests at the bottom.

use crate::limits::CSV_FIELDS_PER_RECORD_MAX;

/// One record: its fields, unquoted, and the line it starts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub line: usize,
    pub fields: Vec<String>,
}

/// Reads every record of `text`; `Err((line, reason))` for the first malformed one.
pub fn read_records(text: &str, separator: char) -> Result<Vec<Record>, (usize, String)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while chars.peek().is_some() {
        let start = line;
        let fields = read_record(&mut chars, separator, &mut line)?;
        if fields.len() > CSV_FIELDS_PER_RECORD_MAX {
            return Err((
                start,
                format!(
                    "{} fields; a record may have at most {CSV_FIELDS_PER_RECORD_MAX}",
                    fields.len()
                ),
            ));
        }
        let blank = fields.len() == 1 && fields[0].is_empty();
        if !blank {
            records.push(Record {
                line: start,
                fields,
            });
        }
    }
    Ok(records)
}

type Chars<'a> = std::iter::Peekable<std::str::Chars<'a>>;

/// Reads one record and its line ending; `line` counts the line breaks consumed.
fn read_record(
    chars: &mut Chars<'_>,
    separator: char,
    line: &mut usize,
) -> Result<Vec<String>, (usize, String)> {
    let mut fields = Vec::new();
    loop {
        let field = if chars.peek() == Some(&'"') {
            chars.next();
            read_quoted(chars, separator, line)?
        } else {
            read_plain(chars, separator, *line)?
        };
        fields.push(field);
        match chars.next() {
            Some(c) if c == separator => continue,
            Some('\r') => {
                chars.next_if_eq(&'\n');
                *line += 1;
                return Ok(fields);
            }
            Some('\n') => {
                *line += 1;
                return Ok(fields);
            }
            None => return Ok(fields),
            Some(other) => return Err((*line, format!("unexpected {other:?} after a field"))),
        }
    }
}

/// A field without quotes: up to the separator or the end of the line.
fn read_plain(
    chars: &mut Chars<'_>,
    separator: char,
    line: usize,
) -> Result<String, (usize, String)> {
    let mut field = String::new();
    while let Some(&c) = chars.peek() {
        if c == separator || c == '\r' || c == '\n' {
            break;
        }
        if c == '"' {
            return Err((line, "a quote inside an unquoted field".into()));
        }
        field.push(c);
        chars.next();
    }
    Ok(field)
}

/// A quoted field, after its opening quote: up to the closing quote (`""` is one quote).
fn read_quoted(
    chars: &mut Chars<'_>,
    separator: char,
    line: &mut usize,
) -> Result<String, (usize, String)> {
    let start = *line;
    let mut field = String::new();
    loop {
        match chars.next() {
            None => return Err((start, "a quoted field is not closed".into())),
            Some('"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            Some('"') => break,
            Some('\n') => {
                *line += 1;
                field.push('\n');
            }
            Some(c) => field.push(c),
        }
    }
    match chars.peek() {
        None | Some('\r') | Some('\n') => Ok(field),
        Some(&c) if c == separator => Ok(field),
        Some(_) => Err((*line, "text after a closing quote".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(text: &str) -> Vec<Vec<String>> {
        read_records(text, ',')
            .expect("reads")
            .into_iter()
            .map(|record| record.fields)
            .collect()
    }

    #[test]
    fn plain_fields_and_crlf() {
        assert_eq!(
            fields("a,b,c\r\n1,,3\r\n"),
            [vec!["a", "b", "c"], vec!["1", "", "3"]]
        );
    }

    #[test]
    fn quoted_fields_hold_commas_doubled_quotes_and_line_breaks() {
        let records = read_records(
            "\"Shop, Inc\",\"say \"\"hi\"\"\"\n\"two\nlines\",x\nlast,y",
            ',',
        )
        .expect("reads");
        assert_eq!(records[0].fields, ["Shop, Inc", "say \"hi\""]);
        assert_eq!(records[1].fields, ["two\nlines", "x"]);
        assert_eq!((records[1].line, records[2].line), (2, 4));
    }

    #[test]
    fn blank_lines_and_a_bom_are_skipped_and_lines_still_count() {
        let records = read_records("\u{feff}a\n\nb\n", ',').expect("reads");
        assert_eq!(records.len(), 2);
        assert_eq!(records[1].line, 3);
    }

    #[test]
    fn another_separator() {
        let records = read_records("a;\"b;c\"\n", ';').expect("reads");
        assert_eq!(records[0].fields, ["a", "b;c"]);
    }

    #[test]
    fn malformed_quotes_are_refused_with_their_line() {
        assert_eq!(
            read_records("ok\n\"open", ','),
            Err((2, "a quoted field is not closed".into()))
        );
        assert_eq!(read_records("ok\n\"a\"b", ',').map_err(|e| e.0), Err(2));
        assert_eq!(read_records("a\"b", ',').map_err(|e| e.0), Err(1));
    }

    #[test]
    fn a_record_with_too_many_fields_is_refused() {
        let wide = ",".repeat(CSV_FIELDS_PER_RECORD_MAX);
        let error = read_records(&format!("ok\n{wide}\n"), ',').expect_err("too wide");
        assert_eq!(error.0, 2);
        let just = ",".repeat(CSV_FIELDS_PER_RECORD_MAX - 1);
        assert!(read_records(&just, ',').is_ok());
    }
}
